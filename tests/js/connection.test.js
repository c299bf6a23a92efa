// The live connection's rules where things fail (static/live_admin/connection.js), under node:
// a stand-in socket and clock, so each path is driven on purpose. The browser tests drive the
// real socket against a real server.
import assert from "node:assert/strict";
import test from "node:test";

import { CLOSE, Connection, REFUSALS, WEBSOCKET_AGAIN } from "../../static/live_admin/connection.js";

class FakeSocket {
  static made = [];
  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.sent = [];
    FakeSocket.made.push(this);
  }
  send(data) {
    this.sent.push(JSON.parse(data));
  }
  close() {
    this.readyState = 3;
  }
  open() {
    this.readyState = 1;
    this.onopen();
  }
  hear(message) {
    this.onmessage({ data: JSON.stringify(message) });
  }
  end(code, opened = true) {
    this.readyState = 3;
    this.onclose({ code, wasClean: opened });
  }
}

class FakeEventSource {
  static made = [];
  constructor(url) {
    this.url = url;
    this.closed = false;
    FakeEventSource.made.push(this);
  }
  close() {
    this.closed = true;
  }
  hear(message) {
    this.onmessage({ data: JSON.stringify(message) });
  }
}

function setUp({ answers = 200, stream = false, shared = null } = {}) {
  FakeSocket.made = [];
  FakeEventSource.made = [];
  const posts = [];
  const timers = [];
  const states = [];
  const events = [];
  const target = new EventTarget();
  for (const type of ["live-admin:message", "live-admin:away", "live-admin:closed"]) {
    target.addEventListener(type, (event) => events.push([type, event.detail]));
  }
  const doc = new EventTarget();
  doc.visibilityState = "visible";
  let now = 0;
  const env = {
    WebSocket: FakeSocket,
    now: () => now,
    advance: (ms) => { now += ms; },
    setTimeout: (fn, ms) => timers.push({ fn, ms }) - 1,
    clearTimeout: (id) => { timers[id] = null; },
    random: () => 0.5,
    fetch: async (url, options = {}) => {
      if (options.method === "POST") {
        posts.push({ url, headers: options.headers, message: JSON.parse(options.body) });
        return { status: 202 };
      }
      if (answers === null) throw new TypeError("network");
      return { status: answers };
    },
    EventSource: FakeEventSource,
    location: { protocol: "http:", host: "example.test", href: "http://example.test/admin/" },
    document: doc,
    window: new EventTarget(),
    channel: { postMessage() {}, onmessage: null },
    shared, // a port to the browser's one connection, if the test gives one
    tab: shared && { id: "ta", ready: Promise.resolve() },
  };
  const status = { set: (state, reason) => states.push([state, reason || null]) };
  const paths = stream ? { streamPath: "/live-admin/stream/", csrf: "tok" } : {};
  const connection = new Connection({ target, wsPath: "/ws/live-admin/", reconnectMs: 1000, status, env, ...paths });
  connection.start(() => ({ type: "subscribe", id: "page", model: "shop.order" }));
  const last = () => FakeSocket.made[FakeSocket.made.length - 1];
  const pending = () => timers.filter(Boolean);
  const runTimers = () => {
    const due = timers.splice(0).filter(Boolean);
    due.forEach((timer) => timer.fn());
  };
  const lastStream = () => FakeEventSource.made[FakeEventSource.made.length - 1];
  return { connection, states, events, env, doc, last, lastStream, posts, pending, runTimers, timers };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

test("a subscribed page is live, and a passing error about a later message changes nothing", () => {
  const { states, last, pending } = setUp();
  last().open();
  assert.deepEqual(last().sent, [{ type: "subscribe", id: "page", model: "shop.order" }]);
  last().hear({ type: "subscribed", id: "page", sockets: 3 });
  assert.deepEqual(states.at(-1), ["live", null]);
  last().hear({ type: "error", id: "page", code: "server_error", message: "a database hiccup" });
  last().hear({ type: "error", id: "page", code: "rate_limited", message: "slow down" });
  assert.deepEqual(states.at(-1), ["live", null]);
  assert.equal(pending().length, 0);
});

test("a passing error before the page is subscribed subscribes again, after a wait", () => {
  const { states, last, pending, runTimers } = setUp();
  last().open();
  last().hear({ type: "error", id: "page", code: "rate_limited", message: "slow down" });
  assert.ok(!states.some(([state]) => state === "offline"));
  assert.equal(pending().length, 1);
  assert.ok(pending()[0].ms > 0);
  runTimers();
  assert.equal(last().sent.length, 2);
  assert.equal(last().sent[1].type, "subscribe");
});

test("only forbidden and not_found end the page", () => {
  for (const code of ["forbidden", "not_found"]) {
    const { states, last, connection } = setUp();
    last().open();
    last().hear({ type: "error", id: "page", code, message: "no" });
    assert.deepEqual(states.at(-1), ["offline", "forbidden"]);
    assert.equal(connection.stopped, true);
  }
});

test("a close that says logged out or not allowed ends the page; others retry", () => {
  let { states, last, pending } = setUp();
  last().open();
  last().end(CLOSE.notLoggedIn);
  assert.deepEqual(states.at(-1), ["offline", "loggedOut"]);
  assert.equal(pending().length, 0);
  ({ states, last, pending } = setUp());
  last().open();
  last().end(1006);
  assert.deepEqual(states.at(-1), ["reconnecting", null]);
  assert.equal(pending().length, 1);
});

test("a tab over the socket limit says so, never 'unreachable', and tries when a tab leaves", () => {
  const { states, last, env, connection, runTimers } = setUp();
  for (let i = 0; i < 6; i++) {
    last().open();
    last().end(CLOSE.tooManySockets);
    assert.deepEqual(states.at(-1), ["waiting", "tooManyTabs"]);
    runTimers();
  }
  assert.ok(!states.some(([, reason]) => reason === "unreachable"));
  assert.equal(connection.stopped, false);
  const made = 7;
  assert.equal(last().constructor.made.length, made);
  last().end(CLOSE.tooManySockets);
  env.channel.onmessage({ data: "left" }); // another tab of this browser closed
  runTimers();
  assert.equal(last().constructor.made.length, made + 1);
  last().open();
  last().hear({ type: "subscribed", id: "page", sockets: 1 });
  assert.deepEqual(states.at(-1), ["live", null]);
});

test("a refused handshake while the site answers says so, with the docs", async () => {
  const { states, last, runTimers } = setUp({ answers: 200 });
  for (let i = 0; i < REFUSALS; i++) {
    runTimers();
    last().end(1006, false); // never opened
    await flush();
  }
  assert.deepEqual(states.at(-1), ["reconnecting", "refused"]);
  runTimers(); // the next try goes on saying why
  assert.deepEqual(states.at(-1), ["reconnecting", "refused"]);
});

test("a server that does not answer is unreachable, not refusing", async () => {
  const { states, last, runTimers } = setUp({ answers: null });
  for (let i = 0; i < 5; i++) {
    runTimers();
    last().end(1006, false);
    await flush();
  }
  assert.ok(!states.some(([, reason]) => reason === "refused"));
  assert.deepEqual(states.at(-1), ["reconnecting", "unreachable"]);
});

test("a proxy's 5xx while the server restarts is not a refusal", async () => {
  const { states, last, runTimers } = setUp({ answers: 502 });
  for (let i = 0; i < 3; i++) {
    runTimers();
    last().end(1006, false);
    await flush();
  }
  assert.ok(!states.some(([, reason]) => reason === "refused"));
});

test("a layer the server lost makes the page say its updates are delayed, until resync", () => {
  const { states, events, last } = setUp();
  last().open();
  last().hear({ type: "subscribed", id: "page", sockets: 1 });
  last().hear({ type: "delayed" });
  assert.deepEqual(states.at(-1), ["delayed", "delayed"]);
  last().hear({ type: "resync" });
  assert.deepEqual(states.at(-1), ["live", null]);
  assert.ok(events.some(([type]) => type === "live-admin:away")); // the page checks once
});

test("coming back into view keeps the jittered backoff", () => {
  const { doc, last, pending } = setUp();
  last().open();
  last().end(1006);
  assert.equal(pending().length, 1);
  const due = pending()[0];
  doc.visibilityState = "hidden";
  doc.dispatchEvent(new Event("visibilitychange"));
  doc.visibilityState = "visible";
  doc.dispatchEvent(new Event("visibilitychange"));
  assert.deepEqual(pending(), [due]); // the try already due stays, not one more at once
  assert.equal(FakeSocket.made.length, 1);
});

test("a layer away before the page subscribes is not hidden by 'live'", () => {
  const { states, last } = setUp();
  last().open();
  last().hear({ type: "delayed" }); // the session group could not be joined
  last().hear({ type: "subscribed", id: "page", sockets: 1 });
  assert.deepEqual(states.at(-1), ["delayed", "delayed"]);
  last().hear({ type: "resync" });
  assert.deepEqual(states.at(-1), ["live", null]);
});

test("a second try of the subscription goes only to the socket it was meant for", () => {
  const { last, runTimers } = setUp();
  const first = last();
  first.open();
  first.hear({ type: "error", id: "page", code: "server_error", message: "a hiccup" });
  first.hear({ type: "error", id: "page", code: "server_error", message: "again" }); // one try
  first.end(1006);
  runTimers(); // the reconnect, and the stale second try
  assert.equal(first.sent.length, 1);
  assert.notEqual(last(), first);
});

test("back in view after a long wait tries within a first window, still jittered", () => {
  const { doc, env, last, pending } = setUp();
  for (let i = 0; i < 6; i++) { // many failures: the try due is far off
    last().end(1006);
    const due = pending().at(-1);
    due.fn();
  }
  last().end(1006);
  const far = pending().at(-1).ms;
  doc.dispatchEvent(new Event("visibilitychange"));
  const soon = pending().at(-1).ms;
  assert.ok(soon < far, `${soon} < ${far}`);
  assert.ok(soon > 0);
  env.advance(0);
});

test("a module that hears the subscription sees the page subscribed already", () => {
  const { connection, last } = setUp();
  let seen = null;
  connection.target.addEventListener("live-admin:message", () => { seen = connection.subscribed; });
  last().open();
  last().hear({ type: "subscribed", id: "page", sockets: 1 });
  assert.equal(seen, true);
});

test("a page back on a new socket says where it was, and is not asked to check all when told", () => {
  const { connection, events, last, runTimers } = setUp();
  last().open();
  assert.equal(last().sent[0].since, undefined); // a first socket has nowhere to come back to
  last().hear({ type: "subscribed", id: "page", cursor: "r-4" });
  last().hear({ type: "changed", id: "page", model: "shop.order", cursor: "r-7" });
  last().end(1006);
  runTimers();
  last().open();
  assert.equal(last().sent[0].since, "r-7");
  last().hear({ type: "subscribed", id: "page", cursor: "r-9", replay: "ok" });
  assert.equal(connection.resumedFrom, "r-7"); // for the list's watch of its rows
  last().hear({ type: "changed", id: "page", model: "shop.order", cursor: "r-8", replayed: true });
  assert.equal(connection.cursor, "r-9"); // a told change is older than the answer's cursor
  assert.ok(!events.some(([type]) => type === "live-admin:away"));
});

test("a catch-up the server cannot give is one check of everything", () => {
  const { connection, events, last, runTimers } = setUp();
  last().open();
  last().hear({ type: "subscribed", id: "page", cursor: "r-4" });
  last().end(1006);
  runTimers();
  last().open();
  assert.equal(last().sent[0].since, "r-4");
  last().hear({ type: "subscribed", id: "page", cursor: "", replay: "whole" });
  assert.equal(events.filter(([type]) => type === "live-admin:away").length, 1);
  assert.equal(connection.resumedFrom, null);
  last().end(1006); // and with no cursor now, the next socket asks nothing
  runTimers();
  last().open();
  assert.equal(last().sent[0].since, undefined);
  last().hear({ type: "subscribed", id: "page", cursor: "r-5" });
  assert.equal(events.filter(([type]) => type === "live-admin:away").length, 2);
});

async function refusedTwice({ last, runTimers }) {
  for (let i = 0; i < REFUSALS; i++) {
    runTimers();
    last().end(1006, false); // never opened: a proxy that refuses the upgrade
    await flush();
  }
}

test("a page whose websocket is refused while the site answers goes live over the stream", async () => {
  const page = setUp({ stream: true });
  const { connection, states, lastStream, posts, runTimers } = page;
  await refusedTwice(page);
  assert.ok(!states.some(([, reason]) => reason === "refused"));
  runTimers();
  const source = lastStream();
  assert.equal(source.url, "/live-admin/stream/");
  source.hear({ type: "stream", id: "s1" });
  await flush();
  assert.deepEqual(posts[0].message, { type: "subscribe", id: "page", model: "shop.order" });
  assert.equal(posts[0].headers["X-Live-Admin-Stream"], "s1");
  assert.equal(posts[0].headers["X-CSRFToken"], "tok");
  source.hear({ type: "subscribed", id: "page", cursor: "r-1" });
  assert.deepEqual(states.at(-1), ["live", null]);
  assert.ok(connection.send({ type: "ping" }));
  await flush();
  assert.deepEqual(posts.at(-1).message, { type: "ping" }); // in the order sent
  source.hear({ type: "closed", code: CLOSE.notLoggedIn });
  assert.deepEqual(states.at(-1), ["offline", "loggedOut"]);
  assert.ok(source.closed);
});

test("a cut stream comes back with the page's cursor", async () => {
  const page = setUp({ stream: true });
  const { lastStream, posts, runTimers } = page;
  await refusedTwice(page);
  runTimers();
  lastStream().hear({ type: "stream", id: "s1" });
  lastStream().hear({ type: "subscribed", id: "page", cursor: "r-1" });
  lastStream().hear({ type: "changed", id: "page", model: "shop.order", cursor: "r-2" });
  lastStream().onerror(); // a proxy cut it after its time-out
  runTimers();
  lastStream().hear({ type: "stream", id: "s2" });
  await flush();
  assert.deepEqual(posts.at(-1).message.since, "r-2");
  assert.equal(posts.at(-1).headers["X-Live-Admin-Stream"], "s2");
});

test("a stream that does not open either leaves the page saying the server refuses", async () => {
  const page = setUp({ stream: true });
  const { states, lastStream, runTimers } = page;
  await refusedTwice(page);
  for (let i = 0; i < REFUSALS; i++) {
    runTimers();
    lastStream().onerror(); // a 404: no stream route
  }
  assert.deepEqual(states.at(-1), ["reconnecting", "refused"]);
  const made = FakeEventSource.made.length;
  runTimers();
  assert.equal(FakeEventSource.made.length, made); // the websocket is tried again, not a stream
});

test("a page on the stream moves back to the websocket once it opens again", async () => {
  const page = setUp({ stream: true });
  const { last, lastStream, pending, runTimers, timers } = page;
  await refusedTwice(page);
  runTimers();
  lastStream().hear({ type: "stream", id: "s1" });
  lastStream().hear({ type: "subscribed", id: "page", cursor: "r-1" });
  assert.equal(pending().length, 1);
  assert.equal(pending()[0].ms, 1000 * WEBSOCKET_AGAIN);
  const sockets = FakeSocket.made.length;
  runTimers(); // the websocket, tried again
  last().end(1006, false); // still blocked: stays on the stream, tries later
  assert.equal(pending().length, 1);
  runTimers();
  assert.equal(FakeSocket.made.length, sockets + 2);
  last().open(); // it opens: the probe is closed, the stream too, and the page reconnects
  assert.equal(last().readyState, 3);
  assert.ok(lastStream().closed);
  assert.equal(timers.filter(Boolean).at(-1).ms, 0);
  runTimers();
  last().open();
  assert.deepEqual(last().sent[0], { type: "subscribe", id: "page", model: "shop.order", since: "r-1" });
});

test("a shared connection that never answers, twice in a row, leaves the tab a socket of its own", async () => {
  const asked = [];
  const ports = [];
  const shared = (lost) => {
    asked.push(lost);
    ports.push({ posted: [], postMessage(message) { this.posted.push(message); } });
    return { port: ports.at(-1), worker: null };
  };
  const { connection, env, last, runTimers } = setUp({ shared });
  await flush();
  assert.deepEqual(ports[0].posted.map((m) => m.op), ["open"]);
  for (let i = 0; i < 2; i++) {
    env.advance(1000);
    runTimers(); // a ping
    env.advance(3001); // no word from the worker, or the leading tab
    runTimers(); // its watchdog; then the next try
    await flush();
    runTimers();
  }
  assert.deepEqual(asked, [false, true]); // the second try asked for a new worker
  assert.equal(env.shared, null);
  assert.equal(connection.refusals, 0); // a silent worker says nothing of the server
  assert.equal(FakeSocket.made.length, 1);
  last().open();
  assert.deepEqual(last().sent, [{ type: "subscribe", id: "page", model: "shop.order" }]);
  assert.equal(connection.transport, "websocket");
});

test("a shared connection that answered once is asked again after it goes quiet", async () => {
  const ports = [];
  const shared = () => {
    ports.push({ posted: [], postMessage(message) { this.posted.push(message); } });
    return { port: ports.at(-1), worker: null };
  };
  const { env, runTimers } = setUp({ shared });
  await flush();
  for (let i = 0; i < 3; i++) {
    ports.at(-1).onmessage({ data: { op: "beat" } });
    env.advance(1000);
    runTimers(); // a ping
    env.advance(3001);
    runTimers(); // not answered
    await flush();
    runTimers();
  }
  assert.equal(ports.length, 4);
  assert.equal(FakeSocket.made.length, 0);
});

test("a shared connection whose server is slow to answer is waited for, not replaced", async () => {
  const ports = [];
  const shared = () => {
    ports.push({ posted: [], postMessage(message) { this.posted.push(message); } });
    return { port: ports.at(-1), worker: null };
  };
  const { env, runTimers, states } = setUp({ shared });
  await flush();
  for (let i = 0; i < 10; i++) { // ten seconds of a handshake the server has not answered
    env.advance(1000);
    runTimers();
    const pings = ports[0].posted.filter((m) => m.op === "ping");
    if (pings.length) ports[0].onmessage({ data: { op: "beat" } }); // the worker lives
  }
  ports[0].onmessage({ data: { op: "open", transport: "websocket" } });
  assert.equal(ports.length, 1);
  assert.deepEqual(ports[0].posted.filter((m) => m.op === "send").map((m) => JSON.parse(m.text).type), ["subscribe"]);
  assert.ok(!states.some(([state]) => state === "reconnecting"));
});
