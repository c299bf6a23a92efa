/* django-live-admin: who else has this object (or these rows) open. Rides the page's one
 * connection (page.js). A native ES module: unminified, no build step. */

import { fieldOf, labelText } from "./diffs.js";
import { format } from "./helpers.js";
import { livePage } from "./page.js";

const api = livePage();
if (api) presence(api);

function presence(api) {
  const { el, text, isForm } = api;
  const HEARTBEAT_MS = (Number(el.dataset.heartbeat) || 4) * 1000; // live_admin.protocol.HEARTBEAT
  const here = new Map(); // row pk -> people, on a changelist
  let state = null;
  let heartbeat = null;

  /** A field's label on this page; "" when this page does not show it to this user. */
  function labelOf(field) {
    if (!field || !isForm) return "";
    const label = document.querySelector(`label[for="id_${CSS.escape(field)}"]`) || // or read-only
      document.querySelector(`${api.sel.changeForm} .field-${CSS.escape(field)} label`);
    return label ? labelText(label) : "";
  }

  function said(people) {
    return people.map((p) => {
      const field = p.state === "editing" ? labelOf(p.field) : "";
      if (field) return format(text.isEditingField, { name: p.name, field });
      return format(p.state === "editing" ? text.isEditing : text.isViewing, p);
    }).join(" · ");
  }

  // -- change form: say whether this page is viewing or editing, and show who else is here ------

  /** The form field this page's focus is in (its name), or "". */
  function focusedField() {
    const node = document.activeElement;
    const form = document.querySelector(api.sel.changeForm);
    if (!node || !form || !form.contains(node) || !node.name) return "";
    const name = fieldOf(node); // a split widget's part: its field
    return /^[A-Za-z_][A-Za-z0-9_-]{0,99}$/.test(name) && !name.startsWith("_") ? name : "";
  }

  function announce(always) {
    if (!api.connection.subscribed) return; // the object's subscription first: "page" names it
    const now = api.dirty() ? "editing" : "viewing";
    const field = now === "editing" ? focusedField() : "";
    if (!always && state !== null && now === state.now && field === state.field) return;
    const message = { type: "presence", id: "page", state: now };
    if (field) message.field = field;
    if (api.send(message)) state = { now, field };
  }

  function showForm(people) {
    let box = document.getElementById("live-admin-presence");
    if (!box) {
      const form = document.querySelector(api.sel.changeForm);
      if (!form) return;
      box = document.createElement("p");
      box.id = "live-admin-presence";
      box.className = "live-admin-presence";
      box.setAttribute("role", "status");
      form.parentNode.insertBefore(box, form);
    }
    box.textContent = said(people);
    box.hidden = people.length === 0;
    el.dataset.presence = String(people.length); // for tests to wait on
  }

  // -- changelist: watch the rows shown, mark those someone has open --------------------------

  function rows() {
    return Array.from(document.querySelectorAll(api.sel.row + ":not(.live-admin-gone)"));
  }

  const pkOf = (row) => api.pkOf(row); // the rows are followed by changelist.js (its watch "rows")

  function mark(row, people) {
    let marker = row.querySelector(".live-admin-here");
    if (!people.length) {
      if (marker) marker.remove();
      return;
    }
    if (!marker) {
      marker = document.createElement("span");
      marker.className = "live-admin-here";
      marker.setAttribute("role", "img");
      const cell = row.querySelector("th") || row.querySelector("td:not(.action-checkbox)");
      if (!cell) return;
      cell.append(" ", marker);
    }
    const words = said(people);
    marker.title = words;
    marker.setAttribute("aria-label", words);
    marker.dataset.state = people.some((p) => p.state === "editing") ? "editing" : "viewing";
  }

  function markAll() {
    for (const row of rows()) mark(row, here.get(pkOf(row)) || []);
    el.dataset.presence = String(Array.from(here.values()).filter((p) => p.length).length);
  }

  // -- messages -------------------------------------------------------------------------------

  function start() {
    if (!isForm) return api.watch(); // told who is on the rows again, now that we listen
    announce(true); // a new socket: say it, and keep saying it
    clearInterval(heartbeat);
    heartbeat = setInterval(() => announce(true), HEARTBEAT_MS);
  }

  el.addEventListener("live-admin:message", (event) => {
    const message = event.detail;
    if (message.type === "subscribed" && message.id === "page") {
      if (isForm) start(); // a list's rows are watched by changelist.js, which we hear
    } else if (message.type === "presence" && message.id === "page") {
      showForm(message.people);
    } else if (message.type === "presence" && message.id === "rows") {
      if (message.people.length) here.set(message.pk, message.people);
      else here.delete(message.pk);
      markAll();
    }
  });

  // Without the socket nobody knows who is there: show nothing until the server says again.
  el.addEventListener("live-admin:state", (event) => {
    // Still connected while the server's layer is away (delayed): heartbeats go on, and what
    // was shown stays until the server says otherwise.
    if (event.detail === "live" || event.detail === "delayed") return;
    state = null;
    clearInterval(heartbeat);
    if (isForm) {
      if (document.getElementById("live-admin-presence")) showForm([]);
    } else {
      here.clear();
      markAll();
    }
  });

  // This module may run after the socket subscribed (one loading slowly lets the page's socket
  // open first): then it starts at once.
  if (el.dataset.liveState === "live") start();

  if (isForm) {
    // Starting to type (or putting a change back) is told at once.
    document.addEventListener("input", () => announce(false));
    document.addEventListener("change", () => announce(false));
    // Moving between fields is told too, once the focus settles (Tab held down sends one).
    let moved = null;
    document.addEventListener("focusin", () => {
      clearTimeout(moved);
      moved = setTimeout(() => announce(false), 300);
    });
  } else {
    el.addEventListener("live-admin:refreshed", markAll);
  }
}
