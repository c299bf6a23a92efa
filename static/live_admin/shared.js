/* django-live-admin: one connection per browser — a multiplexer that holds the one socket (a
 * websocket, or the event stream where that is blocked) for every live admin tab of the site. It
 * runs in a SharedWorker, or, in a browser without one, in the leading tab (leader.js).
 * Each tab still subscribes for itself: the worker names each tab's subscriptions apart (the
 * tab's id before the page's own, "t1a2b3:page") and hands each answer to its tab, and ends a
 * tab's subscriptions when the tab goes (closed, navigated, crashed). Each tab keeps its own
 * connection logic (backoff, status, cursor) over a port that looks like a socket (port.js).
 * A native ES module: unminified, no build step. */

import { StreamSocket } from "./stream.js";

/** How long the multiplexer keeps a socket no tab uses. */
export const LINGER_MS = 3000;

export class Multiplexer {
  /** ``env``: ``WebSocket``, ``EventSource``, ``fetch``, ``setTimeout``, ``clearTimeout``, and
   * ``gone(tab, then)``: calls ``then`` once the tab is gone (a lock the tab holds). */
  constructor(env) {
    this.env = env;
    this.tabs = new Map(); // tab id -> { port, attached, ids: Map(page's id -> what ends it) }
    this.socket = null;
    this.kind = null; // "websocket" or "stream"
    this.open = false;
    this.linger = null;
    this.quiet = new Set(); // ids whose answers no tab waits for (a gone tab's ends)
    this.upgrading = null; // a websocket tried while on the stream
  }

  /** A tab's port. */
  connect(port) {
    port.onmessage = (event) => this.heard(port, event.data);
    if (port.start) port.start();
  }

  heard(port, message) {
    if (message.op === "open") return this.attach(port, message);
    if (message.op === "ping") return port.postMessage({ op: "beat" }); // alive, whatever the socket
    const tab = this.tabs.get(message.tab);
    if (!tab || tab.port !== port) return;
    if (message.op === "send") this.send(message.tab, tab, message.text);
    else if (message.op === "bye") this.leave(message.tab);
  }

  attach(port, request) {
    const known = this.tabs.get(request.tab);
    if (known) this.end(request.tab, known); // the tab's page came back on a new port
    else this.env.gone(request.tab, () => this.leave(request.tab));
    this.tabs.set(request.tab, { port, attached: false, ids: new Map() });
    if (this.linger !== null) this.env.clearTimeout(this.linger);
    this.linger = null;
    if (!this.socket) this.start(request);
    else if (this.open && request.transport === "websocket" && this.kind === "stream") this.upgrade(request);
    if (this.open) this.opened(request.tab);
  }

  start(request) {
    this.wire(this.make(request.transport, request), request.transport);
  }

  /** Make ``socket`` (of ``kind``) the one connection. */
  wire(socket, kind) {
    this.socket = socket;
    this.kind = kind;
    this.open = false;
    socket.onopen = () => {
      this.open = true;
      for (const tab of this.tabs.keys()) this.opened(tab);
    };
    socket.onmessage = (event) => this.route(event.data);
    socket.onclose = (event) => {
      if (this.socket === socket) this.lost(event.code);
    };
  }

  /** The connection closed: every tab is told, and what its page held there is gone. */
  lost(code) {
    const wasOpen = this.open;
    this.socket = null;
    this.open = false;
    this.quiet.clear();
    for (const tab of this.tabs.values()) {
      tab.port.postMessage({ op: "close", code, opened: wasOpen && tab.attached });
      tab.attached = false;
      tab.ids.clear();
    }
  }

  make(kind, request) {
    if (kind === "stream") {
      const { EventSource, fetch } = this.env;
      return new StreamSocket(request.stream + "?shared=1", { csrf: request.csrf, EventSource, fetch });
    }
    return new this.env.WebSocket(request.ws + "?shared=1");
  }

  /** A tab asks for the websocket while the worker is on the stream: the websocket may pass
   * again. Once it opens, it replaces the stream, and the stream's tabs come back on it. */
  upgrade(request) {
    if (this.upgrading) return;
    const socket = this.make("websocket", request);
    this.upgrading = socket;
    socket.onclose = () => { if (this.upgrading === socket) this.upgrading = null; };
    socket.onopen = () => {
      this.upgrading = null;
      const stream = this.socket;
      this.lost(1006); // its tabs come back, onto the websocket
      this.wire(socket, "websocket");
      this.open = true;
      if (stream) stream.close();
    };
  }

  opened(id) {
    const tab = this.tabs.get(id);
    if (tab && !tab.attached) {
      tab.attached = true;
      tab.port.postMessage({ op: "open", transport: this.kind });
    }
  }

  /** A tab's message, its id made the tab's own; what would end it is kept. */
  send(id, tab, text) {
    if (!this.open || !tab.attached) return;
    let message;
    try {
      message = JSON.parse(text);
    } catch {
      return this.socket.send(text); // the server answers that it is not JSON
    }
    if (typeof message.id === "string") {
      const full = `${id}:${message.id}`;
      if (message.type === "subscribe" || message.type === "badges") {
        tab.ids.set(message.id, { type: "unsubscribe", id: full });
      } else if (message.type === "unsubscribe") {
        tab.ids.delete(message.id);
      } else if (message.type === "watch") {
        if (Array.isArray(message.pks) && message.pks.length) {
          tab.ids.set(message.id, { type: "watch", id: full, model: message.model, pks: [] });
        } else tab.ids.delete(message.id);
      }
      message.id = full;
    }
    this.socket.send(JSON.stringify(message));
  }

  /** A message of the server's: to the tab whose id it names, else to every tab. */
  route(data) {
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      return;
    }
    const named = typeof message.id === "string" ? message.id.indexOf(":") : -1;
    if (named < 0) {
      for (const tab of this.tabs.values()) if (tab.attached) tab.port.postMessage({ op: "message", data });
      return;
    }
    if (this.quiet.delete(message.id)) return;
    const tab = this.tabs.get(message.id.slice(0, named));
    if (!tab || !tab.attached) return;
    message.id = message.id.slice(named + 1);
    tab.port.postMessage({ op: "message", data: JSON.stringify(message) });
  }

  /** End what a tab's page holds on the socket. */
  end(id, tab) {
    if (this.open && tab.attached) {
      for (const stop of tab.ids.values()) {
        this.quiet.add(stop.id);
        this.socket.send(JSON.stringify(stop));
      }
    }
    tab.ids.clear();
    tab.attached = false;
  }

  leave(id) {
    const tab = this.tabs.get(id);
    if (!tab) return;
    this.end(id, tab);
    this.tabs.delete(id);
    if (this.tabs.size || !this.socket || this.linger !== null) return;
    this.linger = this.env.setTimeout(() => { // a tab moving to another page comes back at once
      this.linger = null;
      if (!this.tabs.size && this.socket) this.socket.close();
    }, LINGER_MS);
  }
}

/** The multiplexer's parts, where it runs (``scope``: the worker's or the leading page's). */
export function hubEnv(scope) {
  return {
    WebSocket: scope.WebSocket,
    EventSource: scope.EventSource,
    fetch: (...args) => scope.fetch(...args),
    setTimeout: (fn, ms) => scope.setTimeout(fn, ms),
    clearTimeout: (id) => scope.clearTimeout(id),
    // Each tab holds a lock of its id while it lives (port.js): granted here once it is gone.
    gone: (tab, then) => {
      if (scope.navigator.locks) scope.navigator.locks.request(`live-admin-tab:${tab}`, () => then());
    },
  };
}

/* In a SharedWorker: one multiplexer for every port. */
if (typeof globalThis.SharedWorkerGlobalScope === "function" && globalThis instanceof globalThis.SharedWorkerGlobalScope) {
  const hub = new Multiplexer(hubEnv(globalThis));
  globalThis.onconnect = (event) => hub.connect(event.ports[0]);
}
