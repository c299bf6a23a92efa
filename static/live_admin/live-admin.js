/* django-live-admin: keeps an admin changelist or change form live over one websocket.
 * Configured by data-* attributes on #live-admin (no inline script). Unminified, no build step.
 * The pure helpers at the top are unit-tested under node (tests/js/). */
(function (root) {
  "use strict";

  // -- pure helpers ---------------------------------------------------------------------------

  /** Trailing debounce with a maximum wait: a burst of calls gives one run. */
  function debouncer(fn, wait, maxWait, clock) {
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
  function backoff(attempt, base, cap, random) {
    return Math.floor((random || Math.random)() * Math.min(cap, base * 2 ** attempt));
  }

  /** Compare two row snapshots (Map pk -> signature): what appeared, changed and left. */
  function diffRows(before, after) {
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

  function format(template, values) {
    return template.replace(/%\((\w+)\)s/g, (_, key) => String(values[key] ?? ""));
  }

  const helpers = { debouncer, backoff, diffRows, format };
  if (typeof module === "object" && module.exports) {
    module.exports = helpers;
    return;
  }

  // -- the page -------------------------------------------------------------------------------

  const el = document.getElementById("live-admin");
  if (!el || !("WebSocket" in root)) return;
  const cfg = el.dataset;
  const text = JSON.parse(cfg.strings);
  const origin = Math.random().toString(36).slice(2, 12);
  const isForm = cfg.pk !== undefined;
  const debounceMs = Number(cfg.debounceMs) || 300;
  const reconnectMs = Number(cfg.reconnectMs) || 12000;
  const label = el.querySelector(".live-admin-label");
  const announcer = el.querySelector(".live-admin-announce");
  let socket = null;
  let attempt = 0;
  let connectedOnce = false;
  let stopped = false;
  let refreshing = false;
  let held = 0;
  let formState = null;

  function setState(state) {
    el.dataset.liveState = state;
    label.textContent = text[state];
    el.title = text[state];
  }

  function announce(message) {
    announcer.textContent = message;
  }

  // Our own writes carry the page's origin, so we can ignore their echo.
  function carryOrigin(form) {
    const input = document.createElement("input");
    input.type = "hidden";
    input.name = cfg.originField;
    input.value = origin;
    form.appendChild(input);
  }
  document.querySelectorAll("#changelist-form, #content-main form").forEach(carryOrigin);

  // -- connection -----------------------------------------------------------------------------

  function connect() {
    if (stopped || (socket && socket.readyState <= 1)) return;
    setState(connectedOnce ? "reconnecting" : "connecting");
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + cfg.wsPath);
    socket.onopen = () => {
      attempt = 0;
      const sub = { type: "subscribe", id: "page", model: cfg.model };
      if (isForm) sub.pk = cfg.pk;
      else if (cfg.groupField) sub.group = { field: cfg.groupField, value: cfg.groupValue };
      socket.send(JSON.stringify(sub));
    };
    socket.onmessage = (event) => receive(JSON.parse(event.data));
    socket.onclose = (event) => {
      socket = null;
      if (stopped || event.code === 4401 || event.code === 4403) {
        stopped = true;
        setState("offline");
        return;
      }
      setState("reconnecting");
      // The first window (RECONNECT_MS, 12 s by default) spreads a server restart's N pages to
      // under N/5 a second (tests/js/). A tab that becomes visible again reconnects at once.
      setTimeout(connect, backoff(attempt++, reconnectMs, 30000));
    };
  }

  function receive(message) {
    if (message.type === "subscribed") {
      setState("live");
      if (connectedOnce) schedule(); // events may have been missed while away
      else if (formState && formState.reloaded) catchUp();
      connectedOnce = true;
    } else if (message.type === "resync") {
      // The server lost track for a while (its channel layer failed): catch up once.
      if (isForm && !dirty()) location.reload();
      else schedule();
    } else if (message.type === "changed" && message.origin !== origin) {
      if (isForm) formChanged(message);
      else schedule();
    } else if (message.type === "error" && message.id === "page") {
      stopped = true;
      socket.close();
      setState("offline");
    }
  }

  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && !socket && !stopped) {
      attempt = 0;
      connect();
    }
  });

  // -- changelist -----------------------------------------------------------------------------

  const refresher = debouncer(() => refresh(false), debounceMs, debounceMs * 4);

  function schedule() {
    if (!isForm) refresher.call();
  }

  function rowKey(row) {
    const box = row.querySelector("input.action-select");
    if (box) return box.value;
    const link = row.querySelector("th a, td a");
    return link ? link.getAttribute("href") : null;
  }

  function rowSignature(row) {
    const values = Array.from(row.querySelectorAll("input, select, textarea"))
      .filter((input) => !input.classList.contains("action-select"))
      .map((input) => input.value);
    return row.textContent.replace(/\s+/g, " ") + "|" + values.join("|");
  }

  function snapshot() {
    const rows = new Map();
    const places = new Map();
    document.querySelectorAll("#result_list tbody tr").forEach((row, index) => {
      const key = rowKey(row);
      if (key === null) return;
      rows.set(key, rowSignature(row));
      places.set(key, { index, clone: row.cloneNode(true) });
    });
    return { rows, places };
  }

  function busy() {
    const form = document.getElementById("changelist-form");
    if (!form) return false;
    if (form.querySelector("input.action-select:checked")) return true;
    const active = document.activeElement;
    return !!(active && form.contains(active) && active.matches("input, select, textarea") &&
      !active.classList.contains("action-select") && active.name !== "action");
  }

  function showHeld() {
    let notice = document.getElementById("live-admin-held");
    if (!notice) {
      notice = document.createElement("button");
      notice.type = "button";
      notice.id = "live-admin-held";
      notice.className = "live-admin-held";
      notice.addEventListener("click", () => refresh(true));
      const form = document.getElementById("changelist-form");
      form.parentNode.insertBefore(notice, form);
    }
    notice.textContent = format(held === 1 ? text.heldOne : text.heldMany, { count: held });
  }

  async function refresh(force) {
    if (refreshing) {
      refresher.call(); // never overlap: try again after this one
      return;
    }
    if (!force && busy()) {
      held += 1;
      showHeld();
      return;
    }
    refreshing = true;
    held = 0;
    const notice = document.getElementById("live-admin-held");
    if (notice) notice.remove();
    const before = snapshot();
    const checked = new Set(
      Array.from(document.querySelectorAll("input.action-select:checked"), (box) => box.value),
    );
    const scrollX = root.scrollX;
    const scrollY = root.scrollY;
    const toolbar = document.getElementById("toolbar");
    const oob = ["#changelist-filter"];
    if (toolbar && !toolbar.contains(document.activeElement)) oob.push("#toolbar");
    try {
      await root.htmx.ajax("GET", location.href, {
        target: "#changelist-form",
        select: "#changelist-form",
        selectOOB: oob.filter((sel) => document.querySelector(sel)).join(","),
        swap: "outerHTML",
        headers: { "X-Live-Admin-Refresh": "1" },
      });
      afterSwap(before, checked);
      root.scrollTo(scrollX, scrollY);
    } finally {
      refreshing = false;
    }
  }

  function afterSwap(before, checked) {
    const form = document.getElementById("changelist-form");
    carryOrigin(form);
    const boxes = form.querySelectorAll("input.action-select");
    boxes.forEach((box) => {
      box.checked = checked.has(box.value);
      box.closest("tr").classList.toggle("selected", box.checked);
    });
    if (boxes.length && typeof root.Actions === "function") root.Actions(boxes);
    if (boxes.length) boxes[0].dispatchEvent(new Event("change", { bubbles: true }));
    const after = snapshot();
    const diff = diffRows(before.rows, after.rows);
    const rows = document.querySelectorAll("#result_list tbody tr");
    rows.forEach((row) => {
      const key = rowKey(row);
      if (diff.added.includes(key) || diff.changed.includes(key)) row.classList.add("live-admin-flash");
    });
    const tbody = document.querySelector("#result_list tbody");
    for (const key of diff.removed) {
      const place = before.places.get(key);
      const ghost = place.clone;
      ghost.classList.add("live-admin-gone");
      ghost.querySelectorAll("input, select, textarea, a").forEach((node) => {
        node.setAttribute("tabindex", "-1");
        node.disabled = true;
      });
      ghost.addEventListener("animationend", () => ghost.remove());
      if (tbody) tbody.insertBefore(ghost, tbody.children[place.index] || null);
    }
    const count = diff.added.length + diff.changed.length + diff.removed.length;
    el.dataset.refreshes = String(Number(el.dataset.refreshes || 0) + 1);
    if (count) announce(format(text.listUpdated, { count }));
  }

  document.addEventListener("change", (event) => {
    // Finishing a selection (nothing checked any more) applies held updates.
    if (held && event.target.classList.contains("action-select") && !busy()) refresh(true);
  });
  document.addEventListener("focusout", () => {
    setTimeout(() => {
      if (held && !busy()) refresh(true);
    }, 0);
  });

  // -- change form ----------------------------------------------------------------------------

  function formData(form) {
    const data = new URLSearchParams(new FormData(form));
    data.delete("csrfmiddlewaretoken");
    data.delete(cfg.originField);
    return data.toString();
  }

  function setUpForm() {
    const form = document.querySelector("#content-main form");
    if (!form) return;
    formState = { form, initial: formData(form) };
    const saved = sessionStorage.getItem("live-admin-reloaded:" + location.pathname);
    if (saved) {
      formState.reloaded = true;
      sessionStorage.removeItem("live-admin-reloaded:" + location.pathname);
      const info = JSON.parse(saved);
      root.scrollTo(0, info.scrollY);
      banner(info.message, []);
      highlight(info.fields);
    }
  }

  function dirty() {
    return formState !== null && formData(formState.form) !== formState.initial;
  }

  function highlight(fields) {
    for (const name of fields) {
      document.querySelectorAll(".field-" + CSS.escape(name) + ", #" + CSS.escape(name) + "-group")
        .forEach((node) => node.classList.add("live-admin-changed"));
    }
  }

  function banner(message, buttons) {
    let box = document.getElementById("live-admin-banner");
    if (!box) {
      box = document.createElement("div");
      box.id = "live-admin-banner";
      box.className = "live-admin-banner";
      box.setAttribute("role", "alert");
      const form = document.querySelector("#content-main form");
      form.parentNode.insertBefore(box, form);
    }
    box.textContent = message;
    for (const [caption, action] of buttons) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = caption;
      button.addEventListener("click", action);
      box.append(" ", button);
    }
    announce(message);
  }

  function formChanged(message) {
    const at = new Date(message.at || Date.now()).toLocaleTimeString();
    if (message.action === "deleted") {
      banner(text.deleted, []);
      document.querySelectorAll(".submit-row input[type=submit], .submit-row button")
        .forEach((button) => { button.disabled = true; });
      el.dataset.objectDeleted = "true";
      return;
    }
    const said = message.by ? format(text.changedBy, { by: message.by, at }) : format(text.changed, { at });
    if (dirty()) {
      banner(said + " " + text.keepEdits, [[text.reload, () => reloadKeepingPlace(said, message.fields)]]);
      highlight(message.fields || []);
    } else {
      reloadKeepingPlace(said, message.fields || []);
    }
  }

  async function catchUp() {
    // After a reload caused by a change, more changes may have come between the server
    // rendering this page and the socket subscribing: look once, now that events flow.
    const response = await fetch(location.href, { headers: { "X-Live-Admin-Refresh": "1" } });
    if (response.redirected) return formChanged({ action: "deleted" });
    const doc = new DOMParser().parseFromString(await response.text(), "text/html");
    const fresh = doc.querySelector("#content-main form");
    if (fresh && formData(fresh) !== formState.initial) formChanged({ action: "saved", fields: [] });
  }

  function reloadKeepingPlace(message, fields) {
    sessionStorage.setItem(
      "live-admin-reloaded:" + location.pathname,
      JSON.stringify({ message, fields: fields || [], scrollY: root.scrollY }),
    );
    location.reload();
  }

  if (isForm) setUpForm();
  connect();
})(typeof window !== "undefined" ? window : globalThis);
