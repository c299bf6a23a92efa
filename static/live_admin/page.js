/* django-live-admin: the live page — #live-admin's configuration (data-* attributes, no inline
 * script), its status and its one connection — shared by the page's modules: changelist.js or
 * changeform.js, presence.js, badges.js. A native ES module: unminified, no build step. */

import { Connection } from "./connection.js";
import { Status } from "./status.js";

let page;

/** The page's live part, made once; null on a page that is not live. */
export function livePage() {
  if (page !== undefined) return page;
  const el = typeof document === "object" ? document.getElementById("live-admin") : null;
  // A page rendered before the theme map existed stays a stock page.
  if (!el || !el.dataset.theme || !("WebSocket" in window)) return (page = null);
  const cfg = el.dataset;
  cfg.liveModules = "true"; // the loader's sign that the modules ran (live-admin.js)
  const text = JSON.parse(cfg.strings);
  const sel = JSON.parse(cfg.theme);
  const status = new Status(el, text, sel, cfg.loginUrl);
  const connection = new Connection({
    target: el,
    wsPath: cfg.wsPath,
    streamPath: cfg.streamPath || null,
    csrf: cfg.csrf || "",
    worker: cfg.worker || null,
    reconnectMs: Number(cfg.reconnectMs) || 12000,
    status,
    tabs: true,
  });
  page = {
    el,
    cfg,
    text,
    sel,
    status,
    connection,
    isForm: cfg.pk !== undefined,
    /** Our own writes carry it, so that the page can ignore their echo. */
    origin: Math.random().toString(36).slice(2, 12),
    /** What the page's kind adds for the other modules (presence.js). */
    dirty: () => false,
    watch: () => {},
    pkOf: () => null,
    send: (message) => connection.send(message),
    on: (type, handler) => el.addEventListener("live-admin:" + type, (event) => handler(event.detail)),
  };
  return page;
}

/** The first subscription of a page, by its kind: the object, the group, or the model. */
export function pageSubscription(p) {
  const sub = { type: "subscribe", id: "page", model: p.cfg.model };
  if (p.isForm) sub.pk = p.cfg.pk;
  else if (p.cfg.groupField) sub.group = { field: p.cfg.groupField, value: p.cfg.groupValue };
  if (!p.isForm && p.cfg.layout) sub.layout = p.cfg.layout;
  if (!p.isForm) sub.seen = true; // what the list shows while open counts as seen (badges)
  return sub;
}

/** Our own writes carry the page's origin. Only forms that POST: a GET form (the search bar)
 * submits exactly what the stock admin's does. */
export function carryOrigin(p, form) {
  if (!form || (form.getAttribute("method") || "get").toLowerCase() !== "post") return;
  if (form.querySelector(`input[name="${p.cfg.originField}"]`)) return;
  const input = document.createElement("input");
  input.type = "hidden";
  input.name = p.cfg.originField;
  input.value = p.origin;
  form.appendChild(input);
}
