// One tab leading the browser's one connection (static/live_admin/leader.js) under node: node's
// own BroadcastChannel and MessageChannel between "tabs" of one process, stand-in locks and
// sockets. The browser tests drive it in Chromium with SharedWorker taken away.
import assert from "node:assert/strict";
import test from "node:test";

import { LEADER_LOCK, Leadership } from "../../static/live_admin/leader.js";
import { FakeSocket } from "./fakes.js";
import { SharedSocket } from "../../static/live_admin/port.js";

const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

/** Web Locks shared by the tabs: a tab's locks free when it goes, as a closed tab's do. */
class Locks {
  constructor() {
    this.held = new Map(); // name -> tab
    this.waiting = [];
  }
  of(tab) {
    return {
      request: (name, grant) => {
        this.waiting.push({ name, tab, grant });
        this.grant();
        return new Promise(() => {});
      },
    };
  }
  grant() {
    for (const wait of [...this.waiting]) {
      if (this.held.has(wait.name)) continue;
      this.waiting.splice(this.waiting.indexOf(wait), 1);
      this.held.set(wait.name, wait.tab);
      wait.grant();
    }
  }
  close(tab) {
    this.waiting = this.waiting.filter((wait) => wait.tab !== tab);
    for (const [name, holder] of this.held) if (holder === tab) this.held.delete(name);
    this.grant();
  }
}

function browser() {
  FakeSocket.made = [];
  const locks = new Locks();
  const made = [];
  const tab = (id) => {
    locks.of(id).request(`live-admin-tab:${id}`, () => {}); // held while the tab lives
    const scope = {
      BroadcastChannel,
      MessageChannel,
      navigator: { locks: locks.of(id) },
      WebSocket: FakeSocket,
      EventSource: null,
      fetch: async () => ({ status: 202 }),
      setTimeout: (fn, ms) => setTimeout(fn, ms),
      clearTimeout: (t) => clearTimeout(t),
    };
    const leadership = new Leadership(id, scope);
    const connection = { events: [] };
    connection.open = () => {
      const port = leadership.open();
      made.push(port);
      const socket = new SharedSocket(port, { tab: id, transport: "websocket", ws: "ws://x/ws/" }, {
        setTimeout: () => 0,
        clearTimeout: () => {},
        now: () => 0,
      });
      socket.onopen = () => connection.events.push("open");
      socket.onmessage = (event) => connection.events.push(JSON.parse(event.data));
      socket.onclose = (event) => connection.events.push(`closed ${event.code}`);
      connection.socket = socket;
      return socket;
    };
    connection.leadership = leadership;
    connection.close = () => { // the tab and its page go
      leadership.channel.close();
      locks.close(id);
    };
    return connection;
  };
  const end = (...tabs) => {
    for (const t of tabs) t.leadership.channel.close();
    for (const port of made) if (port.close) port.close();
  };
  return { tab, locks, end };
}

test("the first tab leads: the others reach the one socket through it", async () => {
  const { tab, locks, end } = browser();
  const a = tab("ta");
  const b = tab("tb");
  assert.equal(locks.held.get(LEADER_LOCK), "ta");
  a.open();
  b.open();
  await settle();
  assert.equal(FakeSocket.made.length, 1);
  const socket = FakeSocket.made[0];
  assert.equal(socket.url, "ws://x/ws/?shared=1");
  socket.onopen();
  await settle();
  assert.deepEqual([a.events, b.events], [["open"], ["open"]]);
  b.socket.send(JSON.stringify({ type: "subscribe", id: "page", model: "shop.order" }));
  a.socket.send(JSON.stringify({ type: "subscribe", id: "page", model: "shop.order" }));
  await settle();
  assert.deepEqual(socket.sent.map((m) => m.id).sort(), ["ta:page", "tb:page"]);
  socket.hear({ type: "subscribed", id: "tb:page" });
  socket.hear({ type: "changed", model: "shop.order" });
  await settle();
  assert.deepEqual(b.events.slice(1), [{ type: "subscribed", id: "page" }, { type: "changed", model: "shop.order" }]);
  assert.deepEqual(a.events.slice(1), [{ type: "changed", model: "shop.order" }]);
  end(a, b);
});

test("a ping reaches the leading tab and is answered, with no timer of the leader's", async () => {
  const { tab, end } = browser();
  const a = tab("ta");
  const b = tab("tb");
  a.open();
  b.open();
  await settle();
  const answers = [];
  const port = b.socket.port;
  const heard = port.onmessage;
  port.onmessage = (event) => {
    answers.push(event.data);
    heard(event);
  };
  port.postMessage({ op: "ping", tab: "tb" });
  await settle();
  assert.deepEqual(answers, [{ op: "beat" }]);
  end(a, b);
});

test("when the leading tab goes, the next leads and the others come back through it", async () => {
  const { tab, locks, end } = browser();
  const a = tab("ta");
  const b = tab("tb");
  const c = tab("tc");
  for (const t of [a, b, c]) t.open();
  await settle();
  FakeSocket.made[0].onopen();
  await settle();
  a.close(); // the leading tab closes: its lock passes on
  await settle();
  assert.equal(locks.held.get(LEADER_LOCK), "tb");
  // Each that followed the old leader is told its connection closed, and comes back.
  assert.deepEqual([b.events, c.events], [["open", "closed 1006"], ["open", "closed 1006"]]);
  b.open();
  c.open();
  await settle();
  assert.equal(FakeSocket.made.length, 2); // the new leader's one socket
  FakeSocket.made[1].onopen();
  await settle();
  assert.deepEqual([b.events.at(-1), c.events.at(-1)], ["open", "open"]);
  end(b, c);
});

test("a tab that asked before any tab led is told to ask again once one does", async () => {
  const { tab, locks, end } = browser();
  locks.held.set(LEADER_LOCK, "gone"); // a leader that has just gone, its lock not yet free
  const a = tab("ta");
  const b = tab("tb");
  b.open(); // heard by no one
  await settle();
  assert.deepEqual(b.events, []);
  locks.close("gone");
  await settle();
  assert.equal(locks.held.get(LEADER_LOCK), "ta");
  assert.deepEqual(b.events, ["closed 1006"]);
  b.open();
  await settle();
  FakeSocket.made[0].onopen();
  await settle();
  assert.deepEqual(b.events, ["closed 1006", "open"]);
  end(a, b);
});

test("once a new tab leads, a late word of the tab that led before is not heard", async () => {
  const { tab, end } = browser();
  const a = tab("ta");
  const b = tab("tb");
  b.leadership.heard({ leads: "tnew" }); // another tab now leads
  b.open();
  b.leadership.heard({ to: "tb", from: "ta", data: { op: "open", transport: "websocket" } });
  assert.deepEqual(b.events, []); // the old leader's late answer
  b.leadership.heard({ to: "tb", from: "tnew", data: { op: "open", transport: "websocket" } });
  assert.deepEqual(b.events, ["open"]);
  end(a, b);
});
