// Stand-ins the node tests of the shared connection (shared.js, leader.js) have in common.

/** A socket the multiplexer opens: what it was sent, and a way to make the server speak. */
export class FakeSocket {
  static made = [];
  constructor(url) {
    this.url = url;
    this.sent = [];
    this.closed = false;
    FakeSocket.made.push(this);
  }
  send(text) {
    this.sent.push(JSON.parse(text));
  }
  close() {
    this.closed = true;
  }
  hear(message) {
    this.onmessage({ data: JSON.stringify(message) });
  }
}
