/* django-live-admin: a tab's end of the browser's one connection (shared.js) — a port to the
 * SharedWorker behind the same interface as a WebSocket (readyState, onopen, onmessage, onclose,
 * send, close), so the tab's connection logic is the same over it. A worker that stops saying it
 * is alive (crashed, or killed) counts as a closed socket: the tab's next try starts a new one.
 * A native ES module: unminified, no build step. */

/** How long a tab waits for the worker's sign of life before it counts it gone. */
export const WORKER_SILENT_MS = 3000;

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
    port.onmessage = (event) => this.heard(event.data);
    if (port.start) port.start();
    port.postMessage({ op: "open", ...request });
    if (worker) worker.onerror = () => this.end(1006, false, true);
    this.watch();
  }

  heard(message) {
    this.heardAt = this.timers.now();
    if (message.op === "open" && this.readyState === 0) {
      this.readyState = 1;
      this.transport = message.transport;
      if (this.onopen) this.onopen();
    } else if (message.op === "message" && this.readyState === 1) {
      if (this.onmessage) this.onmessage({ data: message.data });
    } else if (message.op === "close") {
      this.end(message.code);
    }
  }

  watch() {
    this.watchdog = this.timers.setTimeout(() => {
      if (this.readyState === 3) return;
      if (this.timers.now() - this.heardAt > WORKER_SILENT_MS) return this.end(1006, true);
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
   * ``workerFailed``: its script could not run (the tab connects on its own instead). */
  end(code, workerLost = false, workerFailed = false) {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.timers.clearTimeout(this.watchdog);
    this.port.onmessage = null; // left open: a "bye" just posted still reaches the worker
    if (this.onclose) this.onclose({ code, wasClean: false, workerLost, workerFailed });
  }
}
