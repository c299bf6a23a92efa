// Replays event arrival times (ms, JSON array on stdin) through the page script's own debouncer
// on a virtual clock; prints how many refreshes a changelist page would make.
"use strict";
const { debouncer } = require("../static/live_admin/helpers.js");

const DEBOUNCE_MS = 300; // live_admin's default DEBOUNCE_MS; the page uses maxWait = 4 x that

const arrivals = JSON.parse(require("fs").readFileSync(0, "utf8"));
let now = 0;
let timers = [];
let nextId = 1;
const clock = {
  now: () => now,
  set: (fn, ms) => {
    const id = nextId++;
    timers.push({ id, at: now + ms, fn });
    return id;
  },
  clear: (id) => {
    timers = timers.filter((t) => t.id !== id);
  },
};
function runTimersUntil(t) {
  for (;;) {
    timers.sort((a, b) => a.at - b.at);
    if (!timers.length || timers[0].at > t) return;
    const timer = timers.shift();
    now = timer.at;
    timer.fn();
  }
}
let refreshes = 0;
const d = debouncer(() => refreshes++, DEBOUNCE_MS, DEBOUNCE_MS * 4, clock);
for (const at of arrivals) {
  runTimersUntil(at);
  now = at;
  d.call();
}
runTimersUntil(Infinity);
console.log(JSON.stringify({ events: arrivals.length, refreshes }));
