/* django-live-admin: one live connection — a websocket that comes back after failures with
 * jittered backoff, says what it is doing through a status, and hands every message the server
 * sends to the page as a "live-admin:message" DOM event. A page, and the index pages' badges,
 * each hold one. A native ES module: unminified, no build step. */

import { retryWait } from "./helpers.js";
import { SharedSocket, shareConnection } from "./port.js";
import { StreamSocket } from "./stream.js";

/** Close codes (live_admin.protocol). */
export const CLOSE = { notLoggedIn: 4401, notAllowed: 4403, tooManySockets: 4429 };
/** Error codes that end what a page follows; any other error passes (docs/protocol.md). */
export const FINAL_ERRORS = new Set(["forbidden", "not_found"]);
/** Handshakes refused in a row, while the site itself answers, before the page says so. */
export const REFUSALS = 2;
/** How long a tab over the socket limit waits between tries when no other tab says it left. */
export const SLOT_WAIT_MS = 15000;
/** How often a page on the event stream tries the websocket again, in reconnect windows. */
export const WEBSOCKET_AGAIN = 10;

const browser = () => ({
  WebSocket: globalThis.WebSocket,
  EventSource: globalThis.EventSource,
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (id) => clearTimeout(id),
  random: Math.random,
  fetch: (...args) => fetch(...args),
  location: globalThis.location,
  document: globalThis.document,
  window: globalThis,
  channel: null, // made by start() for a connection that shares its slot news with other tabs
  shared: null, // (lost) => a new port to the browser's one connection (port.js), if any
  tab: null, // this tab's { id, ready } among the browser's (port.js)
});

export class Connection {
  /** ``target``: the element that hears the events; ``status``: ``{ set(state, reason) }``;
   * ``ready``: whether a message is the server's yes to the subscription; ``tabs``: whether to
   * tell the browser's other tabs when this one leaves, and hear when they do (a live page's
   * connection, which counts against MAX_SOCKETS_PER_USER); ``env``: the browser's parts (a
   * test passes its own). */
  constructor({ target, wsPath, streamPath = null, csrf = "", worker = null, reconnectMs, status = null, ready = null, tabs = false, env = null }) {
    this.target = target;
    this.wsPath = wsPath;
    // The fallback transport, where the page's server has one (and the browser EventSource).
    this.streamPath = streamPath;
    this.csrf = csrf;
    this.transport = "websocket";
    this.streamFailures = 0; // streams that did not open, in a row
    this.probe = null; // the next try of the websocket, while on the stream
    this.workerLost = false; // the shared connection's worker stopped answering
    this.unanswered = 0; // shared connections in a row that never answered
    this.reconnectMs = reconnectMs || 12000;
    this.status = status;
    if (!env) {
      env = browser();
      shareConnection(env, worker); // one socket for every tab, where the browser can share one
    }
    this.env = env;
    if (tabs && !this.env.channel && typeof BroadcastChannel === "function") {
      this.env.channel = new BroadcastChannel("live-admin");
    }
    this.ready = ready || ((message) => message.type === "subscribed" && message.id === "page");
    this.subscription = null; // () => the message a fresh socket subscribes with
    this.socket = null;
    this.timer = null;
    this.dueAt = 0; // when the pending try is due
    this.resubscribing = null; // a subscription's second try, after a passing error
    this.attempt = 0;
    this.peers = 0;
    this.refusals = 0;
    this.stopped = false;
    this.connectedOnce = false;
    this.subscribed = false;
    this.delayed = false; // the server said its layer is away, and has not said resync since
    this.waitingForSlot = false;
    this.hiddenSince = null;
    this.answeredBy = null; // the last socket the server answered the subscription on
    this.switching = false; // closing the stream to go back to the websocket
    this.cursor = null; // the page's newest change, as the server numbered it: where it was
    this.since = null; // the cursor the socket's subscription said
    this.resumedFrom = null; // that cursor, once the server said it told what came after it
  }

  /** Connect, subscribing each socket with ``subscription()``, and follow the page's life. */
  start(subscription) {
    this.subscription = subscription;
    const { document: doc, window: win, channel } = this.env;
    doc.addEventListener("visibilitychange", () => this.visibility(doc.visibilityState));
    win.addEventListener("pageshow", (event) => {
      if (event.persisted) this.away(); // back from the back/forward cache
    });
    doc.addEventListener("resume", () => this.away()); // the browser froze the page, then let it run
    if (channel) {
      channel.onmessage = (event) => {
        // A moment for the server to free the leaving tab's socket, then this one takes it.
        if (event.data === "left" && this.waitingForSlot) this.retrySoon(1000 + this.env.random() * 1000);
      };
      win.addEventListener("pagehide", () => {
        if (this.socket) channel.postMessage("left"); // a tab waiting for a socket takes ours
      });
    }
    if (this.env.tab) {
      // The tab leaves the shared connection at once; a page kept for "back" comes again.
      win.addEventListener("pagehide", () => { if (this.socket) this.socket.close(); });
      this.env.tab.ready.then(() => this.connect());
    } else this.connect();
  }

  /** The subscription, saying where the page was when it was live before (``since``): the
   * server then tells what it missed, or that it must check everything. */
  subscribing() {
    const message = this.subscription();
    this.since = this.connectedOnce && this.cursor && message.type === "subscribe" ? this.cursor : null;
    return this.since ? { ...message, since: this.since } : message;
  }

  send(message) {
    if (!this.socket || this.socket.readyState !== 1) return false;
    this.socket.send(JSON.stringify(message));
    return true;
  }

  emit(type, detail) {
    this.target.dispatchEvent(new CustomEvent(type, { detail }));
  }

  setStatus(state, reason) {
    if (this.status) this.status.set(state, reason);
  }

  connect() {
    this.timer = null;
    if (this.stopped || (this.socket && this.socket.readyState <= 1)) return;
    // A page that says why it waits (refused, too many tabs) goes on saying so while it tries.
    const explained = this.waitingForSlot || this.refusals >= REFUSALS;
    if (!explained && (!this.connectedOnce || this.attempt < 3)) {
      this.setStatus(this.connectedOnce ? "reconnecting" : "connecting");
    }
    const onStream = this.transport === "stream";
    const shared = this.env.shared ? this.openShared() : null;
    const socket = shared || (onStream ? this.openStream() : new this.env.WebSocket(this.websocketUrl()));
    let opened = false;
    this.socket = socket;
    this.subscribed = this.delayed = false;
    socket.onopen = () => {
      opened = true;
      if (shared) this.transport = shared.transport || this.transport; // what the worker has
      if (this.target.dataset) this.target.dataset.transport = this.transport; // for tests
      if (this.subscription) this.send(this.subscribing());
    };
    socket.onmessage = (event) => this.receive(JSON.parse(event.data));
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      // Closed by a proxy before the server's first answer: as good as refused.
      const cut = opened && !this.subscribed && !this.connectedOnceOn(socket);
      this.socket = null;
      this.subscribed = this.delayed = false;
      this.emit("live-admin:closed", { code: event.code, opened });
      if (shared) this.sharedClosed(event, shared.answered);
      if (onStream) return this.streamClosed(event.code, opened);
      this.closed(event.code, opened && !cut, false, Boolean(event.local));
    };
  }

  websocketUrl() {
    const loc = this.env.location;
    return (loc.protocol === "https:" ? "wss://" : "ws://") + loc.host + this.wsPath;
  }

  /** This tab's port to the browser's one connection; null (and no more tries) where the
   * browser will not start the worker (a policy, say): then a socket of the tab's own. */
  openShared() {
    const { setTimeout, clearTimeout, now } = this.env;
    const request = {
      tab: this.env.tab.id,
      transport: this.transport,
      ws: this.websocketUrl(),
      stream: this.streamPath,
      csrf: this.csrf,
    };
    try {
      const { port, worker } = this.env.shared(this.workerLost);
      this.workerLost = false;
      return new SharedSocket(port, request, { setTimeout, clearTimeout, now }, worker);
    } catch (error) {
      console.warn("live_admin: no shared connection, one of this tab's own:", error);
      this.env.shared = null;
      return null;
    }
  }

  /** The shared connection's port closed: a worker (or leading tab) that never answered, twice
   * in a row, or whose script could not run, leaves this tab a socket of its own. */
  sharedClosed(event, answered) {
    this.unanswered = answered ? 0 : this.unanswered + 1;
    this.workerLost = Boolean(event.workerLost);
    if (event.workerFailed || this.unanswered >= REFUSALS) this.env.shared = null;
  }

  openStream() {
    const { EventSource, fetch } = this.env;
    return new StreamSocket(this.streamPath, { csrf: this.csrf, EventSource, fetch });
  }

  connectedOnceOn(socket) {
    return this.answeredBy === socket;
  }

  /** A stream ended: as a socket's close, but a stream that never opened counts against the
   * fallback (twice in a row, and the page goes back to saying the server refuses). */
  streamClosed(code, opened) {
    if (this.probe !== null) this.env.clearTimeout(this.probe);
    this.probe = null;
    if (opened) this.streamFailures = 0;
    else if (++this.streamFailures >= REFUSALS) {
      this.transport = "websocket";
      this.refusals = REFUSALS;
    }
    this.closed(code, true, true);
  }

  /** On the stream: try the websocket now and then, and move back to it once it opens. */
  tryWebsocketLater() {
    if (this.probe !== null || this.transport !== "stream") return;
    this.probe = this.env.setTimeout(() => {
      this.probe = null;
      if (this.stopped || this.transport !== "stream") return;
      const probe = new this.env.WebSocket(this.websocketUrl());
      probe.onopen = () => {
        probe.close();
        if (this.transport !== "stream" || this.stopped) return;
        this.transport = "websocket";
        this.refusals = this.streamFailures = 0;
        this.switching = true;
        if (this.socket) this.socket.close(); // its close connects again at once, over the websocket
      };
      probe.onclose = () => { if (this.transport === "stream") this.tryWebsocketLater(); };
    }, this.reconnectMs * WEBSOCKET_AGAIN);
  }

  /** ``local``: the shared connection's port closed, not a server's socket: no word on
   * whether the server refuses. */
  closed(code, opened, onStream = false, local = false) {
    if (this.switching) {
      this.switching = false;
      return this.retrySoon(0);
    }
    if (code === CLOSE.notLoggedIn) return this.stop("loggedOut");
    if (code === CLOSE.notAllowed) return this.stop("forbidden");
    if (this.stopped) return;
    if (code === CLOSE.tooManySockets) {
      // The user's other tabs hold every socket they may have: this one waits for one to go.
      this.waitingForSlot = true;
      this.setStatus("waiting", "tooManyTabs");
      return this.retrySoon(SLOT_WAIT_MS / 2 + this.env.random() * SLOT_WAIT_MS);
    }
    this.waitingForSlot = false;
    // A quick first try for the pages of a small server, spread out for a large one's.
    const wait = retryWait(this.attempt++, this.peers, this.reconnectMs, this.env.random);
    if (opened && !onStream && !local) this.refusals = 0;
    const refused = this.refusals >= REFUSALS;
    this.setStatus("reconnecting", refused ? "refused" : this.attempt > 3 ? "unreachable" : null);
    if (!opened && !local) this.checkRefused();
    this.retrySoon(wait);
  }

  /** A socket that never opened: is the site up, refusing only the live connection (no
   * websocket route: the stock asgi.py, or a server without websockets)? */
  async checkRefused() {
    let status = 0; // nothing answered: unreachable, as said
    try {
      const response = await this.env.fetch(this.env.location.href, { method: "HEAD", cache: "no-store" });
      status = response.status;
    } catch { /* as said */ }
    if (!status || status >= 500) {
      this.refusals = 0; // the site does not answer either (or a proxy stands in for it)
    } else if (++this.refusals >= REFUSALS && !this.stopped) {
      if (this.streamPath && this.env.EventSource && this.streamFailures < REFUSALS) {
        this.transport = "stream"; // the site answers, its websocket does not: the fallback
        if (!this.socket) this.retrySoon(this.env.random() * 500);
      } else if (!this.socket) {
        this.setStatus("reconnecting", "refused");
      }
    }
  }

  retrySoon(wait) {
    if (this.timer !== null) this.env.clearTimeout(this.timer);
    this.dueAt = this.env.now() + wait;
    this.timer = this.env.setTimeout(() => this.connect(), wait);
  }

  stop(reason) {
    this.stopped = true;
    if (this.timer !== null) this.env.clearTimeout(this.timer);
    if (this.probe !== null) this.env.clearTimeout(this.probe);
    if (this.socket) this.socket.close();
    this.setStatus("offline", reason);
  }

  receive(message) {
    try {
      this.follow(message);
    } finally {
      // After the connection's own state follows the message: a module that hears it (the
      // page's presence, say) sees the page subscribed already.
      this.emit("live-admin:message", message);
    }
  }

  follow(message) {
    if (message.type === "changed" && message.cursor && !message.replayed) this.cursor = message.cursor;
    if (this.ready(message)) {
      this.answeredBy = this.socket;
      if (this.transport === "websocket") this.refusals = 0; // a socket that lets changes in
      if (this.transport === "stream") this.tryWebsocketLater();
      const again = this.connectedOnce;
      const caughtUp = again && this.since !== null && message.replay === "ok";
      this.resumedFrom = caughtUp ? this.since : null;
      if ("cursor" in message) this.cursor = message.cursor || null;
      this.attempt = 0;
      this.peers = message.sockets || 0;
      this.waitingForSlot = false;
      this.subscribed = this.connectedOnce = true;
      this.setStatus(this.delayed ? "delayed" : "live", this.delayed ? "delayed" : null);
      // Changes may have come while the page could not hear them: told since its cursor, or
      // one check of everything it shows.
      if (again && !caughtUp) this.away();
    } else if (message.type === "resync") {
      this.delayed = false;
      if (this.subscribed) this.setStatus("live");
      this.away(); // the server lost track for a while (its channel layer failed)
    } else if (message.type === "delayed") {
      this.delayed = true;
      this.setStatus("delayed", "delayed"); // until the server says it hears changes again
    } else if (message.type === "error" && message.id === "page") {
      this.failed(message);
    }
  }

  /** An error about the page's own subscription: only the server's refusal ends the page. */
  failed(message) {
    if (FINAL_ERRORS.has(message.code)) return this.stop("forbidden");
    console.warn("live_admin: the server answered", message.code, message.message);
    if (this.subscribed || this.resubscribing !== null) return; // the next message tries again
    const socket = this.socket;
    const wait = retryWait(this.attempt++, this.peers, this.reconnectMs, this.env.random);
    this.resubscribing = this.env.setTimeout(() => {
      this.resubscribing = null;
      if (this.socket === socket && !this.subscribed && this.subscription) this.send(this.subscribing());
    }, wait);
  }

  /** Ask the page to check what it shows: it may have missed changes. */
  away() {
    if (!this.stopped && this.connectedOnce) this.emit("live-admin:away", null);
  }

  visibility(state) {
    if (state === "hidden") {
      this.hiddenSince = Date.now();
      return;
    }
    if (this.stopped) return;
    if (!this.socket && !this.waitingForSlot) {
      // Back in view without a socket: a try within a first jittered window, unless the try
      // already due comes sooner (pages shown together still do not all come at once).
      const soon = retryWait(0, this.peers, this.reconnectMs, this.env.random);
      if (this.timer === null || this.dueAt - this.env.now() > soon) this.retrySoon(soon);
    } else if (this.hiddenSince !== null && this.socket.readyState === 1) {
      this.away();
    }
    this.hiddenSince = null;
  }
}
