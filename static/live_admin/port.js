/* django-live-admin: a tab's end of the browser's one connection (shared.js) — a port to the
 * SharedWorker (or to the leading tab, leader.js) behind the same interface as a WebSocket
 * (readyState, onopen, onmessage, onclose, send, close), so the tab's connection logic is the
 * same over it. A worker that stops answering (crashed, or killed) counts as a closed socket: the
 * tab's next try starts a new one. A native ES module: unminified, no build step. */

/** How long a tab waits for the worker's answer before it counts it gone; it asks for one
 * (a ping) after a third of that without a word. Pings are answered on arrival, so a leading
 * tab whose timers the browser slows in the background still answers in time. */
export const WORKER_SILENT_MS = 3000;

/** Gives ``env.tab``, and ``env.shared`` (once ``env.tab.ready``): ``(lost) => { port, worker }``,
 * a new port to the browser's one connection, where the browser can have one: a SharedWorker
 * (``url``: shared.js), else one tab leading over a BroadcastChannel. Neither (no Web Locks to
 * tell a tab is gone): none, and a socket of the tab's own. */
export function shareConnection(env, url, scope = globalThis) {
  if (!url || !scope.navigator || !scope.navigator.locks) return;
  env.tab = tabIdentity(scope.navigator.locks);
  if (typeof scope.SharedWorker === "function") {
    // A tab that finds the worker gone names a new one, and the tabs after it find that one:
    // a worker that ended may still hold its name.
    const key = "live-admin-worker";
    const store = scope.localStorage;
    let generation = null;
    env.shared = (lost = false) => {
      const current = Number(store.getItem(key) || 0);
      if (lost && current === generation) store.setItem(key, String(current + 1));
      generation = Number(store.getItem(key) || 0);
      const worker = new scope.SharedWorker(url, { type: "module", name: `live-admin-${generation}` });
      return { port: worker.port, worker };
    };
  } else if (typeof scope.BroadcastChannel === "function" && typeof scope.MessageChannel === "function") {
    // Loaded only by the pages that need it; one that cannot load it has a socket of its own.
    const led = import("./leader.js").then(({ Leadership }) => {
      const leadership = new Leadership(env.tab.id, scope);
      env.shared = () => ({ port: leadership.open(), worker: null });
    }, (error) => console.warn("live_admin: no shared connection, one of this tab's own:", error));
    env.tab.ready = Promise.all([env.tab.ready, led]);
  }
}

/** This tab's id among the browser's tabs, held as a lock while the tab lives: the worker waits
 * for the lock to learn the tab is gone, however it went. ``ready`` resolves once held. */
export function tabIdentity(locks, random = Math.random) {
  const id = "t" + random().toString(36).slice(2, 9);
  const ready = new Promise((held) => {
    if (!locks) return held();
    locks.request(`live-admin-tab:${id}`, () => {
      held();
      return new Promise(() => {}); // never released while the tab lives
    }).catch(() => held());
  });
  return { id, ready };
}

export class SharedSocket {
  /** ``port``: a new port to the worker; ``request``: ``{ tab, transport, ws, stream, csrf }``;
   * ``timers``: ``{ setTimeout, clearTimeout, now }``; ``worker``: the SharedWorker, whose
   * ``error`` says its script could not run (not served: an upgrade without collectstatic). */
  constructor(port, request, timers, worker = null) {
    this.port = port;
    this.tab = request.tab;
    this.timers = timers;
    this.readyState = 0;
    this.transport = null;
    this.onopen = this.onmessage = this.onclose = null;
    this.heardAt = timers.now();
    this.askedAt = null; // the open is answered once the socket opens: a ping asks sooner
    this.answered = false; // by the worker, ever
    port.onmessage = (event) => this.heard(event.data);
    if (port.start) port.start();
    port.postMessage({ op: "open", ...request });
    if (worker) worker.onerror = () => this.end(1006, false, true);
    this.watch();
  }

  heard(message) {
    this.heardAt = this.timers.now();
    this.askedAt = null;
    this.answered = true;
    if (message.op === "open" && this.readyState === 0) {
      this.readyState = 1;
      this.transport = message.transport;
      if (this.onopen) this.onopen();
    } else if (message.op === "message" && this.readyState === 1) {
      if (this.onmessage) this.onmessage({ data: message.data });
    } else if (message.op === "close") {
      this.end(message.code, false, false, Boolean(message.local));
    }
  }

  /** Gone only when a ping goes unanswered that long: a tick the browser held back (a tab in
   * the background) asks first, so a late timer never counts a live worker gone. */
  watch() {
    this.watchdog = this.timers.setTimeout(() => {
      if (this.readyState === 3) return;
      const now = this.timers.now();
      if (this.askedAt !== null && now - this.askedAt > WORKER_SILENT_MS) return this.end(1006, true);
      if (this.askedAt === null && now - this.heardAt >= WORKER_SILENT_MS / 3) {
        this.askedAt = now;
        this.port.postMessage({ op: "ping", tab: this.tab });
      }
      this.watch();
    }, WORKER_SILENT_MS / 3);
  }

  send(text) {
    if (this.readyState === 1) this.port.postMessage({ op: "send", tab: this.tab, text });
  }

  /** This tab is done with the connection: the worker ends what it holds there. */
  close() {
    if (this.readyState !== 3) this.port.postMessage({ op: "bye", tab: this.tab });
    this.end(1000);
  }

  /** ``workerLost``: the worker stopped answering (the next port goes to a new one);
   * ``workerFailed``: its script could not run (the tab connects on its own instead);
   * ``local``: no server closed anything (those, or a new leading tab): not a refusal. */
  end(code, workerLost = false, workerFailed = false, local = workerLost || workerFailed) {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.timers.clearTimeout(this.watchdog);
    this.port.onmessage = null; // left open: a "bye" just posted still reaches the worker
    if (this.onclose) this.onclose({ code, wasClean: false, workerLost, workerFailed, local });
  }
}
