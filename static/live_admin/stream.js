/* django-live-admin: the fallback transport, for a page whose websocket a proxy blocks — server-
 * sent events from the server, a POST for each message to it, behind the same interface as a
 * WebSocket (readyState, onopen, onmessage, onclose, send, close), so the connection uses either.
 * A native ES module: unminified, no build step. */

export class StreamSocket {
  /** ``url``: the stream's path (GET opens it, POST writes to it); ``csrf``: the page's CSRF
   * token; ``EventSource`` and ``fetch``: the browser's (a test passes its own). */
  constructor(url, { csrf, EventSource, fetch }) {
    this.url = url;
    this.csrf = csrf;
    this.fetch = fetch;
    this.readyState = 0;
    this.id = null;
    this.queue = Promise.resolve(); // one POST at a time: messages arrive in the order sent
    this.onopen = this.onmessage = this.onclose = null;
    this.source = new EventSource(url);
    this.source.onmessage = (event) => this.heard(event.data);
    // A stream that fails (refused, cut by a proxy, the server gone) is over: the connection
    // decides when to open another, saying where the page was.
    this.source.onerror = () => this.end(1006);
  }

  heard(data) {
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      return;
    }
    if (this.readyState === 0 && message.type === "stream") {
      this.id = message.id;
      this.readyState = 1;
      if (this.onopen) this.onopen();
    } else if (message.type === "closed") {
      this.end(message.code);
    } else if (this.readyState === 1 && this.onmessage) {
      this.onmessage({ data });
    }
  }

  send(text) {
    if (this.readyState !== 1) return;
    this.queue = this.queue.then(() => this.post(text));
  }

  async post(text) {
    if (this.readyState !== 1) return;
    let status = 0;
    try {
      const response = await this.fetch(this.url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": this.csrf, "X-Live-Admin-Stream": this.id },
        body: text,
      });
      status = response.status;
    } catch { /* the network: as a stream that failed */ }
    // Gone (another process restarted), refused, or unreachable: a new stream, as after a cut.
    if (status === 0 || status === 403 || status === 410 || status >= 500) this.end(1006);
  }

  close() {
    this.end(1000);
  }

  end(code) {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.source.close();
    if (this.onclose) this.onclose({ code, wasClean: false });
  }
}
