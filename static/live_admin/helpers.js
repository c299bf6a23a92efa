/* django-live-admin: the pure helpers of the page scripts, unit-tested under node
 * (tests/js/). A native ES module: unminified, no build step. */

/** Trailing debounce with a maximum wait: a burst of calls gives one run. */
export function debouncer(fn, wait, maxWait, clock) {
  clock = clock || {
    now: () => Date.now(),
    set: (fn, ms) => setTimeout(fn, ms),
    clear: (id) => clearTimeout(id),
  };
  let timer = null;
  let first = null;
  function fire() {
    timer = null;
    first = null;
    fn();
  }
  return {
    call() {
      const now = clock.now();
      if (first === null) first = now;
      if (timer !== null) clock.clear(timer);
      const delay = Math.max(0, Math.min(wait, first + maxWait - now));
      timer = clock.set(fire, delay);
    },
    cancel() {
      if (timer !== null) clock.clear(timer);
      timer = null;
      first = null;
    },
    pending() {
      return timer !== null;
    },
  };
}

/** Exponential backoff with full jitter: a random wait in [0, min(cap, base * 2^attempt)). */
export function backoff(attempt, base, cap, random) {
  return Math.floor((random || Math.random)() * Math.min(cap, base * 2 ** attempt));
}

/** Compare two row snapshots (Map pk -> signature): what appeared, changed and left. */
export function diffRows(before, after) {
  const added = [];
  const changed = [];
  const removed = [];
  for (const [pk, sig] of after) {
    if (!before.has(pk)) added.push(pk);
    else if (before.get(pk) !== sig) changed.push(pk);
  }
  for (const pk of before.keys()) if (!after.has(pk)) removed.push(pk);
  return { added, changed, removed };
}

export function format(template, values) {
  return template.replace(/%\((\w+)\)s/g, (_, key) => String(values[key] ?? ""));
}

/** The first reconnect window after a server process that held ``peers`` sockets went away:
 * about 60 ms a page keeps a restart's pages under a fifth of them a second, and a handful of
 * pages are back at once. ``maxMs`` (RECONNECT_MS) caps it. */
export function firstWindow(peers, maxMs) {
  return Math.min(maxMs, Math.max(500, 60 * (peers || 0)));
}

/** How long a page waits before reconnect attempt ``attempt`` (0, 1, …): full jitter over a
 * window that starts at ``firstWindow`` and doubles, up to 30 s (2 s for a small server). */
export function retryWait(attempt, peers, maxMs, random) {
  const window = firstWindow(peers, maxMs);
  return backoff(attempt, window, Math.min(30000, Math.max(2000, 4 * window)), random);
}

/** How long to wait before re-fetch ``failures`` (0, 1, …) of a page that failed: 1 s, then a
 * random wait that doubles up to a minute (a page is heavier than a socket's handshake). */
export function refetchWait(failures, random) {
  return 1000 + backoff(failures, 2000, 60000, random);
}

/** Whether a form control differs from what the server rendered. */
export function edited(input) {
  if (input.tagName === "SELECT") {
    const options = Array.from(input.options);
    const rendered = options.some((o) => o.defaultSelected);
    return options.some((o, i) => o.selected !== (rendered ? o.defaultSelected : i === 0 && !input.multiple));
  }
  if (input.type === "checkbox" || input.type === "radio") return input.checked !== input.defaultChecked;
  if (input.type === "file") return input.value !== "";
  return input.value !== input.defaultValue;
}

/** "2 rows changed, 1 added": what an announcement says about a list's refresh. */
export function summary(counts, text) {
  const parts = [];
  for (const kind of ["changed", "added", "removed"]) {
    const n = counts[kind] || 0;
    if (n) parts.push(format(n === 1 ? text[kind + "One"] : text[kind + "Many"], { count: n }));
  }
  return parts.join(", ");
}

/** ``task`` (an async function that does not throw) run one at a time. A call while it runs
 * waits for it and runs it once more, so that its answer is the newest; the calls it
 * overtook get null. */
export function serially(task) {
  let running = false;
  let again = null;
  async function run() {
    if (running) {
      if (again) again.resolve(null);
      return new Promise((resolve) => { again = { resolve }; });
    }
    running = true;
    let result;
    try {
      result = await task();
    } finally {
      running = false;
    }
    if (again) {
      const waiting = again;
      again = null;
      waiting.resolve(await run());
      return null;
    }
    return result;
  }
  return run;
}
