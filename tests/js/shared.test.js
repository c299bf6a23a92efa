// The browser's one connection (static/live_admin/shared.js, port.js) under node: stand-in
// ports, sockets and clock. The browser tests drive the real SharedWorker against a server.
import assert from "node:assert/strict";
import test from "node:test";

import { LINGER_MS, Multiplexer } from "../../static/live_admin/shared.js";
import { FakeSocket } from "./fakes.js";
import { SharedSocket, WORKER_SILENT_MS } from "../../static/live_admin/port.js";

class FakePort {
  constructor() {
    this.posted = [];
  }
  postMessage(message) {
    this.posted.push(message);
  }
  told(op) {
    return this.posted.filter((m) => m.op === op);
  }
  heard() {
    return this.told("message").map((m) => JSON.parse(m.data));
  }
}

function setUp() {
  FakeSocket.made = [];
  const timers = [];
  const gone = new Map();
  const hub = new Multiplexer({
    WebSocket: FakeSocket,
    EventSource: class {
      close() {
        this.closed = true;
      }
    },
    fetch: async () => ({ status: 202 }),
    setTimeout: (fn, ms) => timers.push({ fn, ms }) - 1,
    clearTimeout: (id) => { timers[id] = null; },
    gone: (tab, then) => gone.set(tab, then),
  });
  const request = { transport: "websocket", ws: "ws://x/ws/live-admin/", stream: "/live-admin/stream/", csrf: "c" };
  const tab = (id) => {
    const port = new FakePort();
    hub.connect(port);
    port.onmessage({ data: { op: "open", tab: id, ...request } });
    return port;
  };
  const send = (port, id, message) => port.onmessage({ data: { op: "send", tab: id, text: JSON.stringify(message) } });
  const runTimers = () => timers.splice(0).filter(Boolean).forEach((t) => t.fn());
  return { hub, tab, send, gone, timers, runTimers, request };
}

test("tabs share one socket, each hears only what it follows", () => {
  const { tab, send } = setUp();
  const a = tab("ta");
  const b = tab("tb");
  assert.equal(FakeSocket.made.length, 1);
  const socket = FakeSocket.made[0];
  assert.equal(socket.url, "ws://x/ws/live-admin/?shared=1");
  socket.onopen();
  assert.deepEqual([a.told("open"), b.told("open")], [[{ op: "open", transport: "websocket" }], [{ op: "open", transport: "websocket" }]]);
  send(a, "ta", { type: "subscribe", id: "page", model: "shop.order" });
  send(b, "tb", { type: "subscribe", id: "page", model: "shop.order", pk: "4" });
  assert.deepEqual(socket.sent.map((m) => m.id), ["ta:page", "tb:page"]);
  socket.hear({ type: "subscribed", id: "tb:page", cursor: "c1" });
  socket.hear({ type: "resync" });
  assert.deepEqual(a.heard(), [{ type: "resync" }]);
  assert.deepEqual(b.heard(), [{ type: "subscribed", id: "page", cursor: "c1" }, { type: "resync" }]);
});

test("a tab that goes ends what it followed, quietly, and the last one's socket closes", () => {
  const { tab, send, gone, timers, runTimers } = setUp();
  const a = tab("ta");
  const b = tab("tb");
  const socket = FakeSocket.made[0];
  socket.onopen();
  send(a, "ta", { type: "subscribe", id: "page", model: "shop.order" });
  send(a, "ta", { type: "watch", id: "rows", model: "shop.order", pks: ["1", "2"] });
  send(a, "ta", { type: "badges", id: "badges", models: ["shop.order"] });
  socket.sent = [];
  a.onmessage({ data: { op: "bye", tab: "ta" } });
  assert.deepEqual(socket.sent, [
    { type: "unsubscribe", id: "ta:page" },
    { type: "watch", id: "ta:rows", model: "shop.order", pks: [] },
    { type: "unsubscribe", id: "ta:badges" },
  ]);
  socket.hear({ type: "unsubscribed", id: "ta:page" }); // answers nobody waits for
  assert.deepEqual(b.heard(), []);
  assert.equal(timers.filter(Boolean).length, 0); // another tab still uses it
  gone.get("tb")(); // a tab that crashed: its lock came free
  assert.equal(timers.filter(Boolean)[0].ms, LINGER_MS);
  runTimers();
  assert.ok(socket.closed);
});

test("a tab moving to another page keeps the socket, and its old page's subscriptions end", () => {
  const { tab, send, runTimers } = setUp();
  const a = tab("ta");
  FakeSocket.made[0].onopen();
  send(a, "ta", { type: "subscribe", id: "page", model: "shop.order" });
  a.onmessage({ data: { op: "bye", tab: "ta" } });
  const again = tab("ta");
  runTimers(); // the linger was called off
  assert.ok(!FakeSocket.made[0].closed);
  assert.equal(again.told("open").length, 1);
  const b = tab("tb");
  send(b, "tb", { type: "subscribe", id: "page", model: "shop.order" });
  const port = tab("tb"); // its port was lost and it came back: what it held is ended first
  assert.deepEqual(FakeSocket.made[0].sent.at(-1), { type: "unsubscribe", id: "tb:page" });
  assert.equal(port.told("open").length, 1);
});

test("a socket that closes tells every tab, with its code", () => {
  const { tab } = setUp();
  const a = tab("ta");
  const b = tab("tb");
  FakeSocket.made[0].onopen();
  FakeSocket.made[0].onclose({ code: 4401 });
  assert.deepEqual(a.told("close"), [{ op: "close", code: 4401, opened: true }]);
  assert.deepEqual(b.told("close"), [{ op: "close", code: 4401, opened: true }]);
  tab("ta");
  assert.equal(FakeSocket.made.length, 2); // the next try makes a new one
});

test("on the stream, a tab that finds the websocket open again moves every tab to it", () => {
  const { hub, tab, request } = setUp();
  request.transport = "stream";
  const a = tab("ta");
  const source = hub.socket.source; // the worker's StreamSocket and its EventSource
  source.onmessage({ data: JSON.stringify({ type: "stream", id: "s1" }) });
  assert.deepEqual(a.told("open"), [{ op: "open", transport: "stream" }]);
  request.transport = "websocket";
  const b = tab("tb"); // tried the websocket itself, and it opened
  assert.equal(b.told("open").length, 1); // on the stream meanwhile
  assert.equal(FakeSocket.made.length, 1);
  FakeSocket.made[0].onopen();
  assert.ok(source.closed);
  assert.deepEqual(a.told("close"), [{ op: "close", code: 1006, opened: true }]);
  assert.equal(hub.kind, "websocket");
  assert.equal(a.told("open").length, 1); // a closed port hears no more
  assert.deepEqual(tab("ta").told("open"), [{ op: "open", transport: "websocket" }]);
});

test("a shared socket's port: open, messages, a silent worker counts as gone", () => {
  const port = new FakePort();
  let now = 0;
  const timers = [];
  const socket = new SharedSocket(port, { tab: "ta", transport: "websocket" }, {
    setTimeout: (fn, ms) => timers.push({ fn, ms }) - 1,
    clearTimeout: (id) => { timers[id] = null; },
    now: () => now,
  });
  const events = [];
  socket.onopen = () => events.push("open");
  socket.onmessage = (event) => events.push(JSON.parse(event.data));
  socket.onclose = (event) => events.push(event);
  assert.deepEqual(port.posted[0], { op: "open", tab: "ta", transport: "websocket" });
  port.onmessage({ data: { op: "open", transport: "stream" } });
  assert.equal(socket.transport, "stream");
  port.onmessage({ data: { op: "message", data: '{"type":"pong"}' } });
  socket.send('{"type":"ping"}');
  assert.deepEqual(port.posted.at(-1), { op: "send", tab: "ta", text: '{"type":"ping"}' });
  const tick = () => timers.splice(0).filter(Boolean).forEach((t) => t.fn());
  now += WORKER_SILENT_MS / 3 - 1;
  tick();
  assert.equal(port.told("ping").length, 0); // just heard from
  now += 1;
  tick();
  assert.deepEqual(port.told("ping"), [{ op: "ping", tab: "ta" }]); // a word is asked for
  port.onmessage({ data: { op: "beat" } }); // and given
  now += 60_000; // a tick the browser held back a minute (a tab in the background)
  tick();
  assert.equal(socket.readyState, 1); // asks again, rather than counting the worker gone
  assert.equal(port.told("ping").length, 2);
  now += WORKER_SILENT_MS;
  tick();
  assert.equal(socket.readyState, 1);
  now += 1;
  tick(); // that ping unanswered for longer than WORKER_SILENT_MS
  assert.deepEqual(events, [
    "open",
    { type: "pong" },
    { code: 1006, wasClean: false, workerLost: true, workerFailed: false, local: true },
  ]);
  assert.equal(socket.readyState, 3);
});

test("the multiplexer answers a tab's ping at once, with or without a socket open", () => {
  const { tab } = setUp();
  const a = tab("ta");
  a.onmessage({ data: { op: "ping", tab: "ta" } });
  assert.deepEqual(a.told("beat"), [{ op: "beat" }]);
  assert.equal(a.told("open").length, 0);
});

test("a worker whose script could not run closes the port at once, saying so", () => {
  const worker = {};
  const socket = new SharedSocket(new FakePort(), { tab: "ta" }, {
    setTimeout: () => 0,
    clearTimeout: () => {},
    now: () => 0,
  }, worker);
  let closed = null;
  socket.onclose = (event) => { closed = event; };
  worker.onerror(); // a 404 for shared.js
  assert.deepEqual(closed, { code: 1006, wasClean: false, workerLost: false, workerFailed: true, local: true });
});
