// Unit tests for the pure helpers of the page scripts, static/live_admin/helpers.js (node --test tests/js/).
import assert from "node:assert/strict";
import test from "node:test";

import {
  backoff,
  debouncer,
  diffRows,
  edited,
  firstWindow,
  format,
  refetchWait,
  retryWait,
  serially,
  summary,
} from "../../static/live_admin/helpers.js";

function fakeClock() {
  let now = 0;
  const timers = new Map();
  let next = 1;
  return {
    now: () => now,
    set(fn, delay) {
      timers.set(next, { fn, at: now + delay });
      return next++;
    },
    clear(id) {
      timers.delete(id);
    },
    advance(ms) {
      const end = now + ms;
      for (;;) {
        const due = [...timers.entries()].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at);
        if (!due.length) break;
        const [id, timer] = due[0];
        timers.delete(id);
        now = timer.at;
        timer.fn();
      }
      now = end;
    },
  };
}

test("a burst of calls runs once, after the quiet period", () => {
  const clock = fakeClock();
  let runs = 0;
  const d = debouncer(() => runs++, 300, 1200, clock);
  for (let i = 0; i < 10; i++) {
    d.call();
    clock.advance(50);
  }
  assert.equal(runs, 0);
  clock.advance(300);
  assert.equal(runs, 1);
  assert.equal(d.pending(), false);
});

test("a steady stream still runs at least every maxWait", () => {
  const clock = fakeClock();
  let runs = 0;
  const d = debouncer(() => runs++, 300, 1000, clock);
  for (let i = 0; i < 1000; i++) {  // 1,000 calls over 5 s, every 5 ms
    d.call();
    clock.advance(5);
  }
  clock.advance(300);
  assert.ok(runs >= 5 && runs <= 6, `ran ${runs} times`);
});

test("1,000 changes in one second give a page at most a few refreshes", () => {
  const clock = fakeClock();
  let runs = 0;
  const d = debouncer(() => runs++, 300, 1200, clock);
  for (let i = 0; i < 1000; i++) {
    d.call();
    clock.advance(1);
  }
  clock.advance(2000);
  assert.ok(runs <= 2, `ran ${runs} times`);
});

test("cancel drops a pending run", () => {
  const clock = fakeClock();
  let runs = 0;
  const d = debouncer(() => runs++, 100, 400, clock);
  d.call();
  d.cancel();
  clock.advance(1000);
  assert.equal(runs, 0);
});

test("backoff grows exponentially, is capped, and is fully jittered", () => {
  assert.equal(backoff(0, 500, 30000, () => 0.999), 499);
  assert.equal(backoff(3, 500, 30000, () => 0.5), 2000);
  assert.equal(backoff(20, 500, 30000, () => 0.999), 29970);
  assert.equal(backoff(5, 500, 30000, () => 0), 0);
  for (let i = 0; i < 100; i++) {
    const wait = backoff(4, 500, 30000);
    assert.ok(wait >= 0 && wait < 8000);
  }
});

test("row diff finds what appeared, changed and left", () => {
  const before = new Map([["1", "a"], ["2", "b"], ["3", "c"]]);
  const after = new Map([["1", "a"], ["2", "B"], ["4", "d"]]);
  assert.deepEqual(diffRows(before, after), { added: ["4"], changed: ["2"], removed: ["3"] });
  assert.deepEqual(diffRows(after, after), { added: [], changed: [], removed: [] });
});

test("format fills named placeholders", () => {
  assert.equal(format("%(by)s at %(at)s", { by: "Ada", at: "10:00" }), "Ada at 10:00");
  assert.equal(format("%(count)s updates", { count: 3 }), "3 updates");
});

function seeded(run) {
  let seed = run * 7919;
  return () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
}

test("200 pages losing their server reconnect at under N/5 a second", () => {
  // Each page retries with the script's own waits (its server held 200 sockets; RECONNECT_MS
  // 12 s) while the server is down for 20 s; count attempts per second, for several seeds.
  for (let run = 1; run <= 10; run++) {
    const random = seeded(run);
    const pages = 200;
    const perSecond = new Map();
    for (let page = 0; page < pages; page++) {
      let time = 0;
      for (let attempt = 0; time <= 20000; attempt++) {
        time += retryWait(attempt, pages, 12000, random);
        const second = Math.floor(time / 1000);
        perSecond.set(second, (perSecond.get(second) || 0) + 1);
      }
    }
    const busiest = Math.max(...perSecond.values());
    assert.ok(busiest < pages / 5, `run ${run}: busiest second had ${busiest} attempts`);
  }
});

test("a handful of pages are live again within 5 s of their server's return", () => {
  for (let run = 1; run <= 50; run++) {
    const random = seeded(run);
    for (const downFor of [1000, 3000, 10000]) {
      for (let page = 0; page < 5; page++) {
        let time = 0;
        for (let attempt = 0; time < downFor; attempt++) time += retryWait(attempt, 5, 12000, random);
        assert.ok(time - downFor < 5000, `run ${run}: back ${time - downFor} ms after the server`);
      }
    }
  }
});

test("the first window scales with the server's sockets, within RECONNECT_MS", () => {
  assert.equal(firstWindow(0, 12000), 500);
  assert.equal(firstWindow(5, 12000), 500);
  assert.equal(firstWindow(100, 12000), 6000);
  assert.equal(firstWindow(200, 12000), 12000);
  assert.equal(firstWindow(5000, 12000), 12000);
});

test("edited compares a control with what was rendered, not with focus", () => {
  assert.equal(edited({ tagName: "INPUT", type: "text", value: "a", defaultValue: "a" }), false);
  assert.equal(edited({ tagName: "INPUT", type: "text", value: "b", defaultValue: "a" }), true);
  assert.equal(edited({ tagName: "INPUT", type: "checkbox", checked: true, defaultChecked: false }), true);
  const option = (selected, defaultSelected) => ({ selected, defaultSelected });
  const select = (options, multiple = false) => ({ tagName: "SELECT", options, multiple });
  assert.equal(edited(select([option(false, false), option(true, true)])), false);
  assert.equal(edited(select([option(true, false), option(false, true)])), true);
  assert.equal(edited(select([option(true, false), option(false, false)])), false); // none marked: the first
});

test("summary says what a refresh changed", () => {
  const text = {
    changedOne: "1 row changed", changedMany: "%(count)s rows changed",
    addedOne: "1 added", addedMany: "%(count)s added",
    removedOne: "1 removed", removedMany: "%(count)s removed",
  };
  assert.equal(summary({ changed: 2, added: 1, removed: 0 }, text), "2 rows changed, 1 added");
  assert.equal(summary({ changed: 0, added: 0, removed: 3 }, text), "3 removed");
  assert.equal(summary({ changed: 0, added: 0, removed: 0 }, text), "");
});

test("serially runs one at a time, and only the newest caller gets the newest answer", async () => {
  const started = [];
  const finish = [];
  const task = () => new Promise((resolve) => {
    started.push(started.length + 1);
    finish.push(resolve);
  });
  const run = serially(task);
  const first = run();
  const second = run(); // while the first runs: waits
  const third = run(); // overtakes the second
  assert.equal(started.length, 1); // never two at once
  finish[0]("old answer");
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(started.length, 2); // once more, for the calls that came meanwhile
  finish[1]("new answer");
  assert.deepEqual(await Promise.all([first, second, third]), [null, null, "new answer"]);
  assert.equal(await Promise.race([run(), new Promise((r) => setTimeout(() => r("waiting"), 50))]), "waiting");
  finish[2]("alone");
});

test("a failed page re-fetch waits at least a second, then longer, up to a minute", () => {
  assert.equal(refetchWait(0, () => 0), 1000);
  assert.equal(refetchWait(0, () => 0.999), 1000 + 1998);
  assert.equal(refetchWait(3, () => 0.5), 1000 + 8000);
  assert.equal(refetchWait(20, () => 0.5), 1000 + 30000);
});
