/* django-live-admin: a live changelist. A change refreshes the list in place — only the rows it
 * names when it left them where they were — but never under what the user has (ticks, an
 * action, unsaved values): then it is held, and shown as a button, until they are done.
 * A native ES module: unminified, no build step. */

import { setUpActions } from "./actions.js";
import { noteRow, rowChanges } from "./diffs.js";
import { debouncer, diffRows, edited, format, refetchWait } from "./helpers.js";
import { carryOrigin, livePage, pageSubscription } from "./page.js";
import { places } from "./places.js";
import { rowRefreshes } from "./rows.js";

const p = livePage();
if (p && !p.isForm) changelist(p);

function changelist(p) {
  const { sel, text, el } = p;
  const pl = places(sel);
  const debounceMs = Number(p.cfg.debounceMs) || 300;
  const refresher = debouncer(() => refresh(false), debounceMs, debounceMs * 4);
  let wholePage = false; // a refresh of the whole list is due
  let wholeRefresh = false; // one is under way: what the rows say may be about the old list
  let refreshing = false;
  let held = 0;
  let failures = 0; // whole-list re-fetches that failed in a row
  const list = {
    p,
    pl,
    schedule,
    busy,
    released,
    setRefreshing: (on) => { refreshing = on; },
  };
  const rows = rowRefreshes(list);
  const form = () => document.querySelector(sel.form);

  function schedule() {
    wholePage = true;
    refresher.call();
  }

  p.on("message", (message) => {
    if (message.type === "subscribed" && message.id === "page") rows.watch();
    else if (message.type === "changed" && message.origin !== p.origin) {
      // In place, and every row shown followed (or about to be, with a catch-up's changes).
      if (message.in_place && (rows.followed() || rows.catchingUp()) && !wholeRefresh) {
        if (message.id === "rows") { // the page's own group says nothing more: the rows
          rows.due.add(message.pk); // that changed are told one by one
          refresher.call();
        }
      } else schedule();
    }
  });
  p.on("away", schedule);

  function editables(f) {
    return Array.from(f.querySelectorAll(["input", "select", "textarea"].map((tag) => sel.row + " " + tag).join(", ")))
      .filter((input) => input.name && input.type !== "hidden" && !input.classList.contains("action-select"));
  }

  function acrossOn(f) {
    const across = f.querySelector("input.select-across");
    return !!across && across.value === "1";
  }

  /** Busy: the user has something the swap would lose — unsaved values, a selection, a chosen
   * action. Focus alone is not busy: focus and caret are put back after a swap. */
  function busy() {
    const f = form();
    if (!f) return false;
    if (f.querySelector("input.action-select:checked") || acrossOn(f)) return true;
    const action = f.querySelector("select[name=action]");
    if (action && action.value) return true;
    return editables(f).some(edited);
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
    if (el.style.bottom) notice.style.bottom = el.style.bottom; // above a bar, as the status is
    notice.textContent = format(held === 1 ? text.heldOne : text.heldMany, { count: held });
  }

  function rowSignature(row) {
    const values = Array.from(row.querySelectorAll("input, select, textarea"))
      .filter((input) => !input.classList.contains("action-select"))
      .map((input) => input.value);
    const notes = Array.from(row.querySelectorAll(".live-admin-rownote"), (note) => note.textContent).join("");
    return row.textContent.replace(notes, "").replace(/\s+/g, " ") + "|" + values.join("|"); // not our notes
  }

  function snapshot() {
    const shown = new Map();
    const where = new Map();
    pl.rowsShown().forEach((row, index) => {
      const key = pl.rowKey(row);
      if (key === null) return;
      shown.set(key, rowSignature(row));
      where.set(key, { index, clone: row.cloneNode(true) });
    });
    return { rows: shown, places: where };
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
      if (rows.due.size) await rows.refresh();
      return;
    }
    wholePage = false;
    rows.due.clear();
    refreshing = wholeRefresh = true;
    held = 0;
    const notice = document.getElementById("live-admin-held");
    if (notice) notice.remove();
    let response = null;
    let swapped = null;
    try {
      await window.htmx.ajax("GET", location.href, {
        target: sel.form,
        handler: (elt, info) => { response = info.xhr; }, // swapped below, once nothing is pressed
        headers: { "X-Live-Admin-Refresh": "1" },
      });
    } catch { response = null; }
    try {
      const fresh = response && response.status >= 200 && response.status < 300 &&
        new DOMParser().parseFromString(response.responseText, "text/html");
      if (fresh && fresh.querySelector(sel.form) && form()) {
        await released();
        // What the user has is read as the swap begins, not as the fetch did: a tick, a choice
        // or a keystroke made while the list was on its way is kept too.
        const before = snapshot();
        const kept = keep();
        const anchor = pl.anchorRow();
        window.htmx.swap(form(), response.responseText, { swapStyle: "outerHTML" }, { select: sel.form });
        swapRegions(fresh);
        // A theme's own script (Unfold's Alpine) sets the fresh form up first; then the user's
        // ticks, select-across and values are put back over it.
        await new Promise((resume) => setTimeout(resume, 0));
        swapped = afterSwap(before, kept);
        pl.backToAnchor(anchor);
      }
    } finally {
      refreshing = wholeRefresh = false;
    }
    if (swapped) {
      failures = 0;
      p.status.problem(null);
      p.status.tell(swapped);
    } else if (!response || response.status >= 500 || response.status === 0) {
      // Not a word from the admin (a proxy's 502 during a deploy, the network): the list stays
      // as it is, says so, and is fetched again a little later.
      p.status.problem(text.checkFailed);
      setTimeout(schedule, refetchWait(failures++));
    }
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
  for (const type of ["pointerup", "pointercancel"]) window.addEventListener(type, unpress, true);
  window.addEventListener("blur", (event) => { if (event.target === window) unpress(); }); // the window's
  // A release the page never heard of (outside the window): no button is down any more.
  window.addEventListener("pointermove", (event) => { if (!event.buttons) unpress(); }, true);
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
        const place = focused && pl.placeOf(focused);
        const fresher = document.importNode(theirs[i], true);
        // A filter the user folded (<details>) stays folded, as the admin's filters.js keeps it.
        const folds = Array.from(node.querySelectorAll("details"), (d) => d.open);
        const details = fresher.querySelectorAll("details");
        if (details.length === folds.length) details.forEach((d, j) => { d.open = folds[j]; });
        node.replaceWith(fresher);
        if (place) pl.restoreFocus(place); // a filter link, by its href
      });
    }
  }

  /** Redo what the theme's own script did once to the list's form (live_admin/pages/themes.py). */
  function restyle(f) {
    const jq = window.jQuery;
    if (sel.restyle.includes("select2") && jq && jq.fn && jq.fn.select2) {
      jq(f).find(sel.actions + " select").addClass("form-control").select2({ width: "element" });
    }
  }

  /** What a swap must not lose: the user's ticks, select-across, action, unsaved list values
   * (with the state token they were typed against) and focus. */
  function keep() {
    const f = form();
    const stateInput = f && f.querySelector('input[name="_live_state"]');
    const action = f && f.querySelector("select[name=action]");
    return {
      token: stateInput ? stateInput.value : null,
      checked: new Set(Array.from(document.querySelectorAll("input.action-select:checked"), (b) => b.value)),
      across: f ? acrossOn(f) : false,
      action: action ? action.value : "",
      edits: f ? editables(f).filter(edited).map((input) => [pl.placeOf(input), input]) : [],
      focus: pl.placeOf(document.activeElement),
    };
  }

  function afterSwap(before, kept) {
    const f = form();
    if (!f) return null;
    carryOrigin(p, f);
    // The user's unsaved list_editable values, where their row still is; with them, the state
    // token they were typed against (so that saving them is checked against what the user saw).
    const stateInput = f.querySelector('input[name="_live_state"]');
    if (kept.edits.length && stateInput && kept.token !== null) stateInput.value = kept.token;
    for (const [place, old] of kept.edits) {
      const input = pl.find(place);
      if (!input) continue;
      if (input.tagName === "SELECT") Array.from(input.options).forEach((o, i) => { o.selected = old.options[i] ? old.options[i].selected : o.selected; });
      else if (input.type === "checkbox" || input.type === "radio") input.checked = old.checked;
      else input.value = old.value;
    }
    const boxes = f.querySelectorAll("input.action-select");
    boxes.forEach((box) => {
      box.checked = kept.checked.has(box.value);
      box.closest("tr").classList.toggle("selected", box.checked);
    });
    if (boxes.length) {
      const parent = sel.actionsParent && (f.closest(sel.actionsParent) || document.querySelector(sel.actionsParent));
      setUpActions(window, boxes, parent ? { parent } : undefined);
      boxes[0].dispatchEvent(new Event("change", { bubbles: true })); // the counter
    }
    if (kept.across) {
      // "Select all N" stays chosen, through Django's own action bar.
      const toggle = document.getElementById("action-toggle");
      if (toggle && !toggle.checked) toggle.click();
      const question = document.querySelector(sel.question);
      if (question) question.click();
    }
    const action = f.querySelector("select[name=action]");
    if (action && kept.action) {
      action.value = kept.action;
      action.dispatchEvent(new Event("change", { bubbles: true })); // a theme's script follows it
    }
    restyle(f);
    const diff = diffRows(before.rows, snapshot().rows);
    for (const row of pl.rowsShown()) {
      const key = pl.rowKey(row);
      if (diff.added.includes(key) || diff.changed.includes(key)) row.classList.add("live-admin-flash");
      if (diff.changed.includes(key)) noteRow(row, rowChanges(before.places.get(key).clone, row, text), text);
    }
    for (const key of diff.removed) ghost(before.places.get(key));
    pl.restoreFocus(kept.focus);
    el.dataset.refreshes = String(Number(el.dataset.refreshes || 0) + 1);
    rows.watch();
    el.dispatchEvent(new CustomEvent("live-admin:refreshed"));
    return { changed: diff.changed.length, added: diff.added.length, removed: diff.removed.length };
  }

  /** A removed row fades where it was, then goes. */
  function ghost(place) {
    const row = place.clone;
    row.classList.add("live-admin-gone");
    row.querySelectorAll("input, select, textarea, a").forEach((node) => {
      node.setAttribute("tabindex", "-1");
      node.disabled = true;
    });
    row.addEventListener("animationend", () => pl.keepingPlace(() => row.remove()));
    const shown = Array.from(document.querySelectorAll(sel.row)); // ghosts placed so far too
    const next = shown[place.index];
    if (next) next.parentNode.insertBefore(row, next);
    else if (shown.length) shown[shown.length - 1].parentNode.appendChild(row);
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

  p.pkOf = pl.pkOf;
  p.watch = () => rows.watch(true); // the server answers with the rows' presence again
  document.querySelectorAll(sel.form).forEach((f) => carryOrigin(p, f));
  p.connection.start(() => pageSubscription(p));
}
