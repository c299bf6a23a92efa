/* django-live-admin: a changelist's rows followed one by one — the server is told which rows
 * the page shows (its watch "rows"), and a change it says left them in place re-fetches only
 * those rows, through the admin's own view. A native ES module: unminified, no build step. */

import { diffText, noteRow, rowChanges } from "./diffs.js";
import { format } from "./helpers.js";

/** ``list``: the changelist's ``{ p, pl, schedule, busy, released, setRefreshing }``. */
export function rowRefreshes(list) {
  const { p, pl } = list;
  const watching = { asked: 0, answered: -1, sent: "", pks: new Set(), catchingUp: false };
  const due = new Set();

  /** Follow the rows shown: the server tells their changes (and presence) under id "rows". */
  function watch(again) {
    const pks = pl.rowsShown().map(pl.pkOf).filter((pk) => pk !== null).slice(0, Number(p.cfg.maxWatched) || 200);
    const sent = JSON.stringify(pks);
    if (!again && sent === watching.sent && watching.answered === watching.asked) return;
    const message = { type: "watch", id: "rows", model: p.cfg.model, pks };
    if (p.cfg.layout) message.layout = p.cfg.layout;
    // Back on a new socket that the server caught up: the rows' changes since the same cursor.
    const since = p.connection.resumedFrom;
    if (since && pks.length) message.since = since;
    if ((pks.length || watching.sent !== "") && p.send(message)) { // [] stops it
      watching.asked += 1;
      watching.sent = sent;
      watching.catchingUp = !!message.since;
      p.connection.resumedFrom = null;
    }
  }

  /** Whether the server follows every row shown: then a change it says is in place needs at
   * most the refresh of the rows it names. */
  function followed() {
    return !!p.cfg.layout && watching.answered === watching.asked &&
      pl.rowsShown().every((row) => {
        const pk = pl.pkOf(row);
        return pk !== null && watching.pks.has(pk);
      });
  }

  /** Whether a catch-up's row changes are still to come (the list's own say nothing more). */
  const catchingUp = () => watching.catchingUp;

  p.on("message", (message) => {
    if (message.type === "watching" && message.id === "rows") {
      watching.answered = watching.asked;
      watching.pks = new Set(message.pks);
      if (watching.catchingUp && (message.replay !== "ok" || !followed())) list.schedule();
      watching.catchingUp = false;
      p.el.dataset.watching = String(watching.answered); // for tests to wait on
    }
  });
  p.on("closed", () => {
    watching.sent = ""; // a new socket follows nothing until the page asks again
    watching.answered = -1;
    watching.catchingUp = false;
  });

  /** Re-fetch only the rows due, through the admin's own view (X-Live-Admin-Rows), and swap
   * their cells; any surprise (a row gone from the answer, an error) refreshes the whole list. */
  async function refresh() {
    const pks = Array.from(due);
    due.clear();
    if (pks.length > 50) return list.schedule(); // a header of that many pks may be refused
    list.setRefreshing(true);
    let fresh = null;
    try {
      const response = await fetch(location.href, {
        headers: { "X-Live-Admin-Rows": encodeURIComponent(JSON.stringify(pks)) },
      });
      if (response.ok && !response.redirected) {
        const doc = new DOMParser().parseFromString(await response.text(), "text/html");
        fresh = doc.getElementById("live-admin-rows");
      }
    } catch { /* the whole list below */ }
    await list.released();
    list.setRefreshing(false);
    const found = new Map();
    if (fresh) fresh.querySelectorAll(p.sel.row).forEach((row) => found.set(pl.pkOf(row), row));
    const pairs = pks.map((pk) => [pl.rowOf(pk, pl.pkOf), found.get(pk)]);
    if (!fresh || pairs.some(([old, row]) => !old || !row) || list.busy()) {
      list.schedule(); // what the rows tell is not enough: the whole list (held if busy)
      return;
    }
    const focus = pl.placeOf(document.activeElement);
    let changes = [];
    pl.keepingPlace(() => { changes = pairs.map(([old, row]) => swapCells(old, row, p.text)); });
    const form = document.querySelector(p.sel.form);
    // The rows' new state, over the list's: a save (_live_state) and an action (_live_seen)
    // are checked against what the user sees.
    for (const [name, part] of [["_live_state", fresh.dataset.state], ["_live_seen", fresh.dataset.seen]]) {
      const input = form && form.querySelector(`input[name="${name}"]`);
      if (!input || !part) continue;
      input.value += " " + part;
      if (input.value.split(" ").length > (Number(p.cfg.maxParts) || 100) - 10) list.schedule(); // a fresh list's, one token
    }
    pl.restoreFocus(focus);
    p.el.dataset.rowRefreshes = String(Number(p.el.dataset.rowRefreshes || 0) + 1);
    p.el.dispatchEvent(new CustomEvent("live-admin:refreshed"));
    // One row: what changed in it is said too ("1 row changed: Status: new → paid").
    const said = pairs.length === 1 && changes[0].length ? `${format(p.text.changedOne, {})}: ${diffText(changes[0], p.text)}` : null;
    p.status.tell({ changed: pairs.length }, said);
  }

  return { watch, followed, catchingUp, due, refresh };
}

/** Put a fresh row's cells in place of an old one's. The action checkbox stays (Django's
 * actions.js holds it); list_editable inputs take the old row's formset index. The row then
 * notes what changed in it (before → after); returns those changes. */
export function swapCells(old, row, strings = {}) {
  const changes = rowChanges(old, row, strings);
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
  noteRow(old, changes, strings);
  return changes;
}
