/* django-live-admin: keeps an admin changelist or change form live over one websocket.
 * Configured by data-* attributes on #live-admin (no inline script). Unminified, no build step.
 * Its pure helpers are helpers.js, loaded before it. */
(function (root) {
  "use strict";

  // -- the page -------------------------------------------------------------------------------

  const el = document.getElementById("live-admin");
  if (!el || !("WebSocket" in root)) return;
  if (!root.liveAdminHelpers) { // helpers.js not served (static files not collected again)
    el.dataset.liveState = "offline";
    el.querySelector(".live-admin-label").textContent = JSON.parse(el.dataset.strings).offline;
    return;
  }
  const { debouncer, diffRows, format, retryWait, edited, summary } = root.liveAdminHelpers;
  const cfg = el.dataset;
  const text = JSON.parse(cfg.strings);
  // Where this admin's theme puts each part of the page (live_admin/themes.py); a page rendered
  // before the theme map existed stays a stock page.
  if (!cfg.theme) return;
  const sel = JSON.parse(cfg.theme);
  const rowsShown = () => Array.from(document.querySelectorAll(sel.row + ":not(.live-admin-gone)"));
  const origin = Math.random().toString(36).slice(2, 12);
  const isForm = cfg.pk !== undefined;
  const debounceMs = Number(cfg.debounceMs) || 300;
  const reconnectMs = Number(cfg.reconnectMs) || 12000;
  const label = el.querySelector(".live-admin-label");
  const announcer = document.getElementById("live-admin-announce");
  const ANNOUNCE_EVERY = 10000;
  let socket = null;
  let attempt = 0;
  let peers = 0;
  let connectedOnce = false;
  let stopped = false;
  let refreshing = false;
  let held = 0;
  let formState = null;
  let hiddenSince = null;

  /** Above the bars a theme fixes at the bottom of the window (stacked, some shown only while
   * rows are ticked), not over their buttons. */
  function placeStatus() {
    let lift = 0;
    let bars = [];
    try {
      bars = document.querySelectorAll(sel.bottomBar);
    } catch (e) { /* a selector this browser cannot read (:has): the stock place */ }
    for (const bar of bars) {
      if (!["fixed", "sticky"].includes(getComputedStyle(bar).position)) continue;
      const box = bar.getBoundingClientRect();
      if (box.height && box.bottom > root.innerHeight - 100) lift = Math.max(lift, root.innerHeight - box.top);
    }
    el.style.bottom = lift ? lift + 12 + "px" : "";
  }
  if (sel.layer) el.style.zIndex = String(sel.layer);
  if (sel.bottomBar) {
    placeStatus();
    for (const event of ["resize", "scroll", "change"]) root.addEventListener(event, placeStatus, { passive: true });
    el.addEventListener("live-admin:refreshed", placeStatus);
  }

  function setState(state, reason) {
    if (el.dataset.liveState !== state) el.dispatchEvent(new CustomEvent("live-admin:state", { detail: state }));
    el.dataset.liveState = state;
    if (reason) el.dataset.liveReason = reason;
    else delete el.dataset.liveReason;
    label.textContent = text[reason || state];
    el.title = label.textContent;
    if (reason === "loggedOut" && cfg.loginUrl) {
      const link = document.createElement("a");
      link.href = cfg.loginUrl + "?next=" + encodeURIComponent(location.pathname + location.search);
      link.textContent = text.logIn;
      label.append(" ", link);
    }
  }

  // -- announcements: one live region, at most one message every ten seconds ---------------------

  const told = { changed: 0, added: 0, removed: 0, message: null };
  let lastTold = -Infinity;
  let tellTimer = null;

  function tell(counts, message) {
    for (const kind of ["changed", "added", "removed"]) told[kind] += (counts && counts[kind]) || 0;
    if (message) told.message = message;
    const wait = lastTold + ANNOUNCE_EVERY - Date.now();
    if (wait <= 0) say();
    else if (tellTimer === null) tellTimer = setTimeout(say, wait);
  }

  function say() {
    tellTimer = null;
    const words = told.message || summary(told, text);
    told.changed = told.added = told.removed = 0;
    told.message = null;
    if (!words || !announcer) return;
    announcer.textContent = words;
    lastTold = Date.now();
    el.dataset.announcements = String(Number(el.dataset.announcements || 0) + 1);
  }

  // Our own writes carry the page's origin, so we can ignore their echo. Only forms that POST:
  // a GET form (the search bar) submits exactly what the stock admin's does.
  function carryOrigin(form) {
    if ((form.getAttribute("method") || "get").toLowerCase() !== "post") return;
    if (form.querySelector(`input[name="${cfg.originField}"]`)) return;
    const input = document.createElement("input");
    input.type = "hidden";
    input.name = cfg.originField;
    input.value = origin;
    form.appendChild(input);
  }
  document.querySelectorAll(sel.form + ", " + sel.changeForm).forEach(carryOrigin);

  // -- connection -----------------------------------------------------------------------------

  function connect() {
    if (stopped || (socket && socket.readyState <= 1)) return;
    if (!connectedOnce || attempt < 3) setState(connectedOnce ? "reconnecting" : "connecting");
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + cfg.wsPath);
    socket.onopen = () => {
      const sub = { type: "subscribe", id: "page", model: cfg.model };
      if (isForm) sub.pk = cfg.pk;
      else if (cfg.groupField) sub.group = { field: cfg.groupField, value: cfg.groupValue };
      if (!isForm && cfg.layout) sub.layout = cfg.layout;
      if (!isForm) sub.seen = true; // what the list shows while open counts as seen (badges)
      socket.send(JSON.stringify(sub));
    };
    socket.onmessage = (event) => receive(JSON.parse(event.data));
    socket.onclose = (event) => {
      socket = null;
      watching.sent = ""; // a new socket follows nothing until the page asks again
      watching.answered = -1;
      if (event.code === 4401) return stop("loggedOut");
      if (event.code === 4403) return stop("forbidden");
      if (stopped) return;
      // A quick first try for the pages of a small server, spread out for a large one's.
      const wait = retryWait(attempt++, peers, reconnectMs);
      setState("reconnecting", attempt > 3 ? "unreachable" : null);
      setTimeout(connect, wait);
    };
  }

  function stop(reason) {
    stopped = true;
    if (socket) socket.close();
    setState("offline", reason);
  }

  function receive(message) {
    el.dispatchEvent(new CustomEvent("live-admin:message", { detail: message })); // presence.js
    if (message.type === "subscribed") {
      attempt = 0;
      peers = message.sockets || 0;
      setState("live");
      // Changes may have come while the page was away, or between rendering and subscribing.
      if (connectedOnce || (formState && formState.reloaded)) checkAway();
      connectedOnce = true;
      if (!isForm && message.id === "page") watch();
    } else if (message.type === "resync") {
      checkAway(); // the server lost track for a while (its channel layer failed)
    } else if (message.type === "watching" && message.id === "rows") {
      watching.answered = watching.asked;
      watching.pks = new Set(message.pks);
      el.dataset.watching = String(watching.answered); // for tests to wait on
    } else if (message.type === "changed" && message.origin !== origin) {
      if (isForm) formChanged(message);
      else if (message.in_place && followed() && !wholeRefresh) {
        if (message.id === "rows") scheduleRow(message.pk); // the page's own group says
        // nothing more: the rows that changed are told one by one
      } else schedule();
    } else if (message.type === "error" && message.id === "page") {
      stop("forbidden");
    }
  }

  /** Look once whether what the page shows changed while it could not hear about it. */
  function checkAway() {
    if (isForm) checkForm();
    else schedule();
  }

  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "hidden") {
      hiddenSince = Date.now();
      return;
    }
    if (stopped) return;
    if (!socket) {
      attempt = 0;
      connect();
    } else if (hiddenSince !== null && socket.readyState === 1) {
      checkAway();
    }
    hiddenSince = null;
  });
  root.addEventListener("pageshow", (event) => {
    if (event.persisted && !stopped) checkAway(); // back from the back/forward cache
  });
  document.addEventListener("resume", () => {
    if (!stopped) checkAway(); // the browser froze the page, then let it run again
  });

  // -- changelist -----------------------------------------------------------------------------

  const refresher = debouncer(() => refresh(false), debounceMs, debounceMs * 4);
  let wholePage = false; // a refresh of the whole list is due
  let wholeRefresh = false; // one is under way: what the rows say may be about the old list
  const dueRows = new Set(); // else: the rows due a row refresh

  function schedule() {
    if (isForm) return;
    wholePage = true;
    refresher.call();
  }

  function scheduleRow(pk) {
    dueRows.add(pk);
    refresher.call();
  }

  // -- following the rows shown (row refreshes and presence.js) ------------------------------

  const watching = { asked: 0, answered: -1, sent: "", pks: new Set() };

  /** A row's pk: its action checkbox's value, else (no actions, a view-only user) read from its
   * change link, undoing the admin's quote() (``_XX`` for a few characters). */
  function pkOf(row) {
    const box = row.querySelector("input.action-select");
    if (box) return box.value;
    const own = `a[href^="${CSS.escape(location.pathname)}"]`; // its own change link
    const link = row.querySelector(`th ${own}`) || row.querySelector(`td ${own}`);
    const found = link && link.getAttribute("href").match(/\/([^/?#]+)\/change\/(?:[?#]|$)/);
    if (!found) return null;
    return decodeURIComponent(found[1]).replace(/_([0-9A-F]{2})/g, (_, hex) => String.fromCharCode(parseInt(hex, 16)));
  }

  function shownPks() {
    return rowsShown().map(pkOf);
  }

  /** Follow the rows shown: the server tells their changes (and presence) under id "rows". */
  function watch(again) {
    const pks = shownPks().filter((pk) => pk !== null).slice(0, 200);
    const sent = JSON.stringify(pks);
    if (!again && sent === watching.sent && watching.answered === watching.asked) return;
    const message = { type: "watch", id: "rows", model: cfg.model, pks };
    if (cfg.layout) message.layout = cfg.layout;
    if ((pks.length || watching.sent !== "") && el.liveAdmin.send(message)) { // [] stops it
      watching.asked += 1;
      watching.sent = sent;
    }
  }

  /** Whether the server follows every row shown: then a change it says is in place needs at
   * most the refresh of the rows it names. */
  function followed() {
    return !!cfg.layout && watching.answered === watching.asked &&
      shownPks().every((pk) => pk !== null && watching.pks.has(pk));
  }

  function changelistForm() {
    return document.querySelector(sel.form);
  }

  function rowKey(row) {
    const box = row.querySelector("input.action-select");
    if (box) return box.value;
    const link = row.querySelector("th a, td a");
    return link ? link.getAttribute("href") : null;
  }

  /** The row shown whose key (by ``keyOf``: rowKey, or pkOf) is ``key``. */
  function rowOf(key, keyOf = rowKey) {
    return rowsShown().find((row) => keyOf(row) === key) || null;
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
    rowsShown().forEach((row, index) => {
      const key = rowKey(row);
      if (key === null) return;
      rows.set(key, rowSignature(row));
      places.set(key, { index, clone: row.cloneNode(true) });
    });
    return { rows, places };
  }

  /** The controls of the list the user may have edited (not the action bar's own). */
  function editables(form) {
    return Array.from(form.querySelectorAll(["input", "select", "textarea"].map((tag) => sel.row + " " + tag).join(", ")))
      .filter((input) => input.name && input.type !== "hidden" && !input.classList.contains("action-select"));
  }

  function acrossOn(form) {
    const across = form.querySelector("input.select-across");
    return !!across && across.value === "1";
  }

  /** Busy: the user has something the swap would lose — unsaved values, a selection, a chosen
   * action. Focus alone is not busy: focus and caret are put back after a swap. */
  function busy() {
    const form = changelistForm();
    if (!form) return false;
    if (form.querySelector("input.action-select:checked") || acrossOn(form)) return true;
    const action = form.querySelector("select[name=action]");
    if (action && action.value) return true;
    return editables(form).some(edited);
  }

  function showHeld() {
    let notice = document.getElementById("live-admin-held");
    if (!notice) {
      // Over the page, not in it: nothing moves under the pointer.
      notice = document.createElement("button");
      notice.type = "button";
      notice.id = "live-admin-held";
      notice.className = "live-admin-held";
      if (sel.layer) notice.style.zIndex = String(sel.layer);
      notice.addEventListener("click", () => refresh(true));
      document.body.appendChild(notice);
    }
    notice.textContent = format(held === 1 ? text.heldOne : text.heldMany, { count: held });
  }

  /** Where a control is, in terms that survive a swap: its row's key, and its name without the
   * formset index, or its link. */
  function placeOf(node) {
    if (!node || node === document.body || !node.closest) return null;
    const row = node.closest(sel.row);
    return {
      row: row ? rowKey(row) : null,
      name: node.name ? node.name.replace(/^form-\d+-/, "") : null,
      href: node.getAttribute("href"),
      id: node.id || null,
      start: typeof node.selectionStart === "number" ? node.selectionStart : null,
      end: typeof node.selectionEnd === "number" ? node.selectionEnd : null,
    };
  }

  function find(place) {
    const scope = place.row !== null ? rowOf(place.row) : document;
    if (!scope) return null;
    const nodes = Array.from(scope.querySelectorAll(place.name ? "[name]" : place.href ? "a[href]" : "[id]"));
    return nodes.find((node) =>
      place.name ? node.name.replace(/^form-\d+-/, "") === place.name
        : place.href ? node.getAttribute("href") === place.href
          : node.id === place.id) || null;
  }

  function restoreFocus(place) {
    const node = place && find(place);
    if (!node || node === document.activeElement) return;
    node.focus({ preventScroll: true });
    if (place.start !== null) {
      try {
        node.setSelectionRange(place.start, place.end);
      } catch (e) { /* a control without a caret */ }
    }
  }

  /** The first row in view and where it is on the screen, so that rows added or removed above
   * it do not move what the user reads. */
  function anchorRow() {
    for (const row of rowsShown()) {
      const top = row.getBoundingClientRect().top;
      if (top >= 0) return { key: rowKey(row), top, x: root.scrollX, y: root.scrollY };
    }
    return { key: null, top: 0, x: root.scrollX, y: root.scrollY };
  }

  function backToAnchor(anchor) {
    root.scrollTo(anchor.x, anchor.y);
    const row = anchor.key !== null && anchor.y > 0 && rowOf(anchor.key);
    if (row) root.scrollBy(0, row.getBoundingClientRect().top - anchor.top);
  }

  function keepingPlace(change) {
    const anchor = anchorRow();
    change();
    backToAnchor(anchor);
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
    if (!force && !wholePage) {
      if (dueRows.size) await refreshRows();
      return;
    }
    wholePage = false;
    dueRows.clear();
    refreshing = wholeRefresh = true;
    held = 0;
    const notice = document.getElementById("live-admin-held");
    if (notice) notice.remove();
    let response = null;
    let swapped = null;
    try {
      await root.htmx.ajax("GET", location.href, {
        target: sel.form,
        handler: (elt, info) => { response = info.xhr; }, // swapped below, once nothing is pressed
        headers: { "X-Live-Admin-Refresh": "1" },
      });
      const fresh = response && response.status >= 200 && response.status < 300 &&
        new DOMParser().parseFromString(response.responseText, "text/html");
      if (fresh && fresh.querySelector(sel.form) && changelistForm()) {
        await released();
        // What the user has is read as the swap begins, not as the fetch did: a tick, a choice
        // or a keystroke made while the list was on its way is kept too.
        const before = snapshot();
        const kept = keep();
        const anchor = anchorRow();
        root.htmx.swap(changelistForm(), response.responseText, { swapStyle: "outerHTML" }, { select: sel.form });
        swapRegions(fresh);
        // A theme's own script (Unfold's Alpine) sets the fresh form up first; then the user's
        // ticks, select-across and values are put back over it.
        await new Promise((resume) => setTimeout(resume, 0));
        swapped = afterSwap(before, kept);
        backToAnchor(anchor);
      }
    } finally {
      refreshing = wholeRefresh = false;
    }
    if (swapped) tell(swapped);
  }

  // A press (mouse button, finger) is a click only if it ends on the element it began on: a swap
  // in between would lose it, so swaps wait until the press is over and its click dispatched.
  let pressed = false;
  const afterPress = [];
  document.addEventListener("pointerdown", () => { pressed = true; }, true);
  const unpress = () => {
    if (!pressed) return;
    pressed = false;
    setTimeout(() => afterPress.splice(0).forEach((resume) => resume()), 0); // after the click
  };
  for (const type of ["pointerup", "pointercancel"]) root.addEventListener(type, unpress, true);
  root.addEventListener("blur", (event) => { if (event.target === root) unpress(); }); // the window's
  // A release the page never heard of (outside the window): no button is down any more.
  root.addEventListener("pointermove", (event) => { if (!event.buttons) unpress(); }, true);
  async function released() {
    while (pressed) await new Promise((resume) => afterPress.push(resume));
  }

  /** The parts outside the form that the list refreshes too (filters, search bar, counts,
   * pagination), each where the fresh page has as many of it; never one the user is typing in. */
  function swapRegions(fresh) {
    for (const region of sel.regions) {
      const mine = document.querySelectorAll(region);
      const theirs = fresh.querySelectorAll(region);
      if (mine.length !== theirs.length) continue;
      mine.forEach((node, i) => {
        const focused = node.contains(document.activeElement) ? document.activeElement : null;
        const typing = focused && focused.matches("input, select, textarea");
        if (typing || Array.from(node.querySelectorAll("input")).some(edited)) return;
        const place = focused && placeOf(focused);
        const fresher = document.importNode(theirs[i], true);
        // A filter the user folded (<details>) stays folded, as the admin's filters.js keeps it.
        const folds = Array.from(node.querySelectorAll("details"), (d) => d.open);
        const details = fresher.querySelectorAll("details");
        if (details.length === folds.length) details.forEach((d, j) => { d.open = folds[j]; });
        node.replaceWith(fresher);
        if (place) restoreFocus(place); // a filter link, by its href
      });
    }
  }

  /** Redo what the theme's own script did once to the list's form (live_admin/themes.py). */
  function restyle(form) {
    const jq = root.jQuery;
    if (sel.restyle.includes("select2") && jq && jq.fn && jq.fn.select2) {
      jq(form).find(sel.actions + " select").addClass("form-control").select2({ width: "element" });
    }
  }

  /** What a swap must not lose: the user's ticks, select-across, action, unsaved list values
   * (with the state token they were typed against) and focus. */
  function keep() {
    const form = changelistForm();
    const stateInput = form && form.querySelector('input[name="_live_state"]');
    const action = form && form.querySelector("select[name=action]");
    return {
      token: stateInput ? stateInput.value : null,
      checked: new Set(Array.from(document.querySelectorAll("input.action-select:checked"), (b) => b.value)),
      across: form ? acrossOn(form) : false,
      action: action ? action.value : "",
      edits: form ? editables(form).filter(edited).map((input) => [placeOf(input), input]) : [],
      focus: placeOf(document.activeElement),
    };
  }

  function afterSwap(before, kept) {
    const form = changelistForm();
    if (!form) return null;
    carryOrigin(form);
    // The user's unsaved list_editable values, where their row still is; with them, the state
    // token they were typed against (so that saving them is checked against what the user saw).
    const stateInput = form.querySelector('input[name="_live_state"]');
    if (kept.edits.length && stateInput && kept.token !== null) stateInput.value = kept.token;
    for (const [place, old] of kept.edits) {
      const input = find(place);
      if (!input) continue;
      if (input.tagName === "SELECT") Array.from(input.options).forEach((o, i) => { o.selected = old.options[i] ? old.options[i].selected : o.selected; });
      else if (input.type === "checkbox" || input.type === "radio") input.checked = old.checked;
      else input.value = old.value;
    }
    const boxes = form.querySelectorAll("input.action-select");
    boxes.forEach((box) => {
      box.checked = kept.checked.has(box.value);
      box.closest("tr").classList.toggle("selected", box.checked);
    });
    if (boxes.length && typeof root.Actions === "function") {
      const parent = sel.actionsParent && (form.closest(sel.actionsParent) || document.querySelector(sel.actionsParent));
      root.Actions(boxes, parent ? { parent } : undefined);
    }
    if (boxes.length) boxes[0].dispatchEvent(new Event("change", { bubbles: true })); // the counter
    if (kept.across) {
      // "Select all N" stays chosen, through Django's own action bar.
      const toggle = document.getElementById("action-toggle");
      if (toggle && !toggle.checked) toggle.click();
      const question = document.querySelector(sel.question);
      if (question) question.click();
    }
    const action = form.querySelector("select[name=action]");
    if (action && kept.action) {
      action.value = kept.action;
      action.dispatchEvent(new Event("change", { bubbles: true })); // a theme's script follows it
    }
    restyle(form);
    const after = snapshot();
    const diff = diffRows(before.rows, after.rows);
    for (const row of rowsShown()) {
      const key = rowKey(row);
      if (diff.added.includes(key) || diff.changed.includes(key)) row.classList.add("live-admin-flash");
    }
    for (const key of diff.removed) {
      const place = before.places.get(key);
      const ghost = place.clone;
      ghost.classList.add("live-admin-gone");
      ghost.querySelectorAll("input, select, textarea, a").forEach((node) => {
        node.setAttribute("tabindex", "-1");
        node.disabled = true;
      });
      ghost.addEventListener("animationend", () => keepingPlace(() => ghost.remove()));
      const rows = Array.from(document.querySelectorAll(sel.row)); // ghosts placed so far too
      const next = rows[place.index];
      if (next) next.parentNode.insertBefore(ghost, next);
      else if (rows.length) rows[rows.length - 1].parentNode.appendChild(ghost);
    }
    restoreFocus(kept.focus);
    el.dataset.refreshes = String(Number(el.dataset.refreshes || 0) + 1);
    watch();
    el.dispatchEvent(new CustomEvent("live-admin:refreshed"));
    return { changed: diff.changed.length, added: diff.added.length, removed: diff.removed.length };
  }

  /** Re-fetch only the rows due, through the admin's own view (X-Live-Admin-Rows), and swap
   * their cells; any surprise (a row gone from the answer, an error) refreshes the whole list. */
  async function refreshRows() {
    const pks = Array.from(dueRows);
    dueRows.clear();
    if (pks.length > 50) return schedule(); // a header of that many pks may be refused
    refreshing = true;
    let fresh = null;
    try {
      const response = await fetch(location.href, {
        headers: { "X-Live-Admin-Rows": encodeURIComponent(JSON.stringify(pks)) },
      });
      if (response.ok && !response.redirected) {
        const doc = new DOMParser().parseFromString(await response.text(), "text/html");
        fresh = doc.getElementById("live-admin-rows");
      }
    } catch (e) { /* the whole list below */ }
    await released();
    refreshing = false;
    const found = new Map();
    if (fresh) fresh.querySelectorAll(sel.row).forEach((row) => found.set(pkOf(row), row));
    const pairs = pks.map((pk) => [rowOf(pk, pkOf), found.get(pk)]);
    if (!fresh || pairs.some(([old, row]) => !old || !row) || busy()) {
      schedule(); // what the rows tell is not enough: the whole list (held if busy)
      return;
    }
    const focus = placeOf(document.activeElement);
    keepingPlace(() => pairs.forEach(([old, row]) => swapCells(old, row)));
    const stateInput = changelistForm() && changelistForm().querySelector('input[name="_live_state"]');
    if (stateInput && fresh.dataset.state) {
      // The rows' new state, over the list's: a save is checked against what the user sees.
      stateInput.value += " " + fresh.dataset.state;
      if (stateInput.value.split(" ").length > 90) schedule(); // a fresh list's, one token
    }
    restoreFocus(focus);
    el.dataset.rowRefreshes = String(Number(el.dataset.rowRefreshes || 0) + 1);
    el.dispatchEvent(new CustomEvent("live-admin:refreshed"));
    tell({ changed: pairs.length });
  }

  /** Put a fresh row's cells in place of an old one's. The action checkbox stays (Django's
   * actions.js holds it); list_editable inputs take the old row's formset index. */
  function swapCells(old, row) {
    const index = (node) => {
      const input = node.querySelector('[name^="form-"]');
      const found = input && input.name.match(/^form-(\d+)-/);
      return found ? found[1] : null;
    };
    const from = index(row);
    const to = index(old);
    if (from !== null && to !== null && from !== to) {
      row.querySelectorAll("[name], [id], label[for]").forEach((node) => {
        for (const attr of ["name", "id", "for"]) {
          const value = node.getAttribute(attr);
          if (value) node.setAttribute(attr, value.replace(`form-${from}-`, `form-${to}-`));
        }
      });
    }
    const cells = Array.from(row.children);
    Array.from(old.children).forEach((cell, i) => {
      if (cell.classList.contains("action-checkbox") || !cells[i]) return;
      cell.replaceWith(document.importNode(cells[i], true));
    });
    old.classList.remove("live-admin-flash");
    void old.offsetWidth; // restart the flash
    old.classList.add("live-admin-flash");
  }

  function applyHeldIfIdle() {
    setTimeout(() => {
      if (held && !refreshing && !busy()) refresh(true);
    }, 0);
  }
  // Held updates are applied as soon as nothing is left that they would overwrite: the last row
  // unticked (or the header box cleared), "Clear selection", an edit put back, the action unset.
  document.addEventListener("change", (event) => {
    if (held && event.target.closest && event.target.closest(sel.form)) applyHeldIfIdle();
  });
  document.addEventListener("click", (event) => {
    if (held && event.target.closest && event.target.closest(sel.actions)) applyHeldIfIdle();
  });
  document.addEventListener("focusout", () => {
    if (held) applyHeldIfIdle();
  });

  // -- change form ----------------------------------------------------------------------------

  function formData(form) {
    const data = new URLSearchParams(new FormData(form));
    data.delete("csrfmiddlewaretoken");
    data.delete(cfg.originField);
    return data.toString();
  }

  function controls(form) {
    return Array.from(form.elements).filter((node) =>
      node.name && node.name !== "csrfmiddlewaretoken" && node.name !== cfg.originField &&
      node.type !== "submit" && node.type !== "button");
  }

  function setUpForm() {
    const form = document.querySelector(sel.changeForm);
    if (!form) return;
    // What the server rendered (before the admin's widgets run), and what counts as unsaved.
    formState = { form, initial: formData(form) };
    formState.rendered = formState.initial;
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
    // A form the server sent back (errors, a conflict) holds values that are not saved yet.
    if (formState !== null && cfg.unsaved === "true") return true;
    return formState !== null && formData(formState.form) !== formState.initial;
  }

  function highlight(fields) {
    for (const name of fields) {
      document.querySelectorAll(sel.fieldRow.map((pattern) => pattern.replace("{name}", CSS.escape(name))).join(", "))
        .forEach((node) => node.classList.add("live-admin-changed"));
    }
  }

  function banner(message, buttons) {
    let box = document.getElementById("live-admin-banner");
    if (!box) {
      box = document.createElement("div");
      box.id = "live-admin-banner";
      box.className = "live-admin-banner";
      const form = document.querySelector(sel.changeForm);
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
    tell(null, message);
  }

  function deleted() {
    banner(text.deleted, []);
    // Every save button of the form, in it or tied to it from outside (form="…").
    const form = document.querySelector(sel.changeForm);
    Array.from(form ? form.elements : []).filter((node) => node.type === "submit")
      .forEach((button) => { button.disabled = true; });
    el.dataset.objectDeleted = "true";
  }

  async function formChanged(message) {
    if (message.action === "deleted") return deleted();
    const at = new Date(message.at || Date.now()).toLocaleTimeString();
    const said = message.by ? format(text.changedBy, { by: message.by, at }) : format(text.changed, { at });
    const keep = () => {
      banner(said + " " + text.keepEdits, [[text.reload, () => reloadKeepingPlace(said, message.fields)]]);
      highlight(message.fields || []);
    };
    if (dirty()) return keep();
    const fresh = await fetchForm();
    if (fresh === undefined) return;
    if (fresh === null) return deleted();
    if (dirty()) return keep(); // the user started typing meanwhile
    const changed = updateForm(fresh);
    if (changed === null) return reloadKeepingPlace(said, message.fields || []);
    banner(said, []);
    highlight(message.fields && message.fields.length ? message.fields : changed);
  }

  /** The change form as the admin renders it now, null when the object is gone, undefined when
   * the session is (the socket's close says so). */
  async function fetchForm() {
    const response = await fetch(location.href, { headers: { "X-Live-Admin-Refresh": "1" } });
    if (response.redirected && cfg.loginUrl && new URL(response.url).pathname === cfg.loginUrl) return undefined;
    if (response.redirected || !response.ok) return null;
    const doc = new DOMParser().parseFromString(await response.text(), "text/html");
    return doc.querySelector(sel.changeForm);
  }

  /** Put the fresh form's values into the page's form, in place: focus, caret, scroll and the
   * admin's widgets stay. A control the user is in keeps its value until they leave it
   * unchanged. Returns the names that changed, or null when the forms differ in shape (an inline
   * row came or went), which takes a reload. */
  function updateForm(fresh) {
    const form = formState.form;
    const theirs = controls(fresh);
    const names = new Set(theirs.map((node) => node.name));
    const mine = controls(form).filter((node) => names.has(node.name)); // not the widgets' own
    if (mine.length !== theirs.length || mine.some((node, i) => node.name !== theirs[i].name)) return null;
    const pairs = mine.map((node, i) => [node, theirs[i]]).filter(([node, source]) => differs(node, source));
    if (pairs.some(([node]) => node.classList.contains("filtered"))) return null; // a two-box selector
    const changed = new Set();
    // The state token says what the form shows: while a field keeps its old value (the user is
    // in it), the form keeps its old token too, so that saving what they then type is checked
    // against what they saw.
    const token = pairs.find(([node]) => node.name === "_live_state");
    const held = pairs.some(([node]) => node === document.activeElement);
    const oldToken = token ? token[0].value : null;
    for (const [node, source] of pairs) {
      if (node === (token && token[0])) continue;
      changed.add(fieldName(node.name));
      if (node === document.activeElement) {
        node.addEventListener("blur", () => {
          if (!edited(node)) {
            adopt(node, source);
            if (token && token[0].value === oldToken) adopt(token[0], token[1]);
            formState.initial = formData(form);
          }
        }, { once: true });
      } else {
        adopt(node, source);
      }
    }
    if (token && !held) adopt(token[0], token[1]);
    const shown = form.querySelectorAll(sel.readonly);
    const fresher = fresh.querySelectorAll(sel.readonly);
    if (shown.length === fresher.length) {
      shown.forEach((node, i) => {
        if (node.innerHTML !== fresher[i].innerHTML) node.innerHTML = fresher[i].innerHTML;
      });
    }
    formState.initial = formData(form);
    formState.rendered = formData(fresh);
    return Array.from(changed);
  }

  function fieldName(name) {
    return name.replace(/^.*-\d+-/, "").replace(/_\d+$/, "");
  }

  function differs(node, source) {
    if (node.tagName === "SELECT") {
      return node.innerHTML !== source.innerHTML ||
        Array.from(node.options).some((o, i) => o.selected !== source.options[i].defaultSelected);
    }
    if (node.type === "checkbox" || node.type === "radio") return node.checked !== source.defaultChecked;
    if (node.type === "file") return false;
    return node.value !== source.defaultValue;
  }

  function adopt(node, source) {
    if (node.tagName === "SELECT") {
      if (node.innerHTML !== source.innerHTML) node.innerHTML = source.innerHTML;
      Array.from(node.options).forEach((o, i) => {
        o.defaultSelected = source.options[i].defaultSelected;
        o.selected = source.options[i].defaultSelected;
      });
      node.dispatchEvent(new Event("change", { bubbles: true })); // widgets built on it follow
    } else if (node.type === "checkbox" || node.type === "radio") {
      node.defaultChecked = node.checked = source.defaultChecked;
    } else if (node.type !== "file") {
      node.defaultValue = source.defaultValue;
      node.value = source.defaultValue;
    }
  }

  /** After a reconnect or a return to the page: has the object changed meanwhile? */
  async function checkForm() {
    if (!formState) return;
    const fresh = await fetchForm();
    el.dataset.checks = String(Number(el.dataset.checks || 0) + 1); // for tests to wait on
    if (fresh === undefined) return;
    if (fresh === null) return deleted();
    if (formData(fresh) !== formState.rendered) formChanged({ action: "saved", fields: [] });
  }

  function reloadKeepingPlace(message, fields) {
    sessionStorage.setItem(
      "live-admin-reloaded:" + location.pathname,
      JSON.stringify({ message, fields: fields || [], scrollY: root.scrollY }),
    );
    location.reload();
  }

  // What other scripts of the page (presence.js) may use: the socket, and the form's state.
  el.liveAdmin = {
    send(message) {
      if (!socket || socket.readyState !== 1) return false;
      socket.send(JSON.stringify(message));
      return true;
    },
    dirty: () => dirty(),
    pkOf,
    sel,
    watch: () => watch(true), // the server answers with the rows' presence again
  };
  if (isForm) setUpForm();
  connect();
})(typeof window !== "undefined" ? window : globalThis);
