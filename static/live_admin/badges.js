/* django-live-admin: change badges on the links to live models' changelists (index, app index,
 * sidebar): how many objects changed since this user last opened each list. Rides the page's
 * connection on a live page, else holds one of its own (the index pages).
 * A native ES module: unminified, no build step. */

import { Connection } from "./connection.js";
import { format } from "./helpers.js";
import { livePage } from "./page.js";

const box = document.getElementById("live-admin-badges");
const models = box && "WebSocket" in window ? JSON.parse(box.dataset.models || "[]") : [];
if (models.length) badges(box, models);

function badges(box, models) {
  const text = JSON.parse(box.dataset.strings);
  const sel = JSON.parse(box.dataset.theme);
  const urls = new Map(models.map((m) => [m.model, m.url]));
  const counts = {};
  const ask = { type: "badges", id: "badges", models: models.map((m) => m.model) };

  /** The links to ``url`` that carry a badge, and the element each badge goes in. */
  function hosts(url) {
    return Array.from(document.querySelectorAll(sel.badgeLinks))
      .filter((a) => a.getAttribute("href") === url)
      .map((a) => (sel.badgeIn && a.querySelector(sel.badgeIn)) || a);
  }

  function show(label, told) {
    const url = urls.get(label);
    if (url === undefined) return;
    if (told && told.count) counts[label] = told;
    else delete counts[label];
    for (const host of hosts(url)) {
      let badge = host.querySelector(":scope > .live-admin-badge");
      if (!counts[label]) {
        if (badge) badge.remove();
        continue;
      }
      if (!badge) {
        badge = document.createElement("span");
        badge.className = "live-admin-badge";
        badge.dataset.model = label;
        const shown = document.createElement("span");
        shown.setAttribute("aria-hidden", "true");
        const said = document.createElement("span");
        said.className = "live-admin-sr";
        badge.append(shown, said);
        host.append(badge);
      }
      const { count, more } = told;
      const words = more ? text.more : count === 1 ? text.one : text.many;
      badge.firstChild.textContent = count > 99 ? "99+" : count + (more ? "+" : "");
      badge.lastChild.textContent = " (" + format(words, { count }) + ")";
      badge.title = format(words, { count });
    }
    box.dataset.counts = JSON.stringify(counts); // for tests to wait on
  }

  let answered = false; // the first answer after asking lists every model the page may show
  function receive(message) {
    if (message.type !== "badges" || message.id !== "badges") return;
    const told = message.counts || {};
    if (!answered) for (const label of Object.keys(counts)) if (!(label in told)) show(label, null);
    answered = true;
    for (const [label, count] of Object.entries(told)) show(label, count);
    box.dataset.state = "live";
  }
  function asking() {
    answered = false;
    return ask;
  }

  // A live page: its connection, asked again each time the page subscribes on a new socket.
  const page = livePage();
  if (page) {
    page.on("message", (message) => {
      if (message.type === "subscribed" && message.id === "page") page.send(asking());
      else receive(message);
    });
    if (page.el.dataset.liveState === "live") page.send(asking());
    return;
  }

  // The index and app index: a connection of the badges' own, back after a server restart.
  // Logged out, not allowed, or every socket the user may open held by their other pages: it
  // says nothing and tries no more than the connection's rules say.
  const connection = new Connection({
    target: box,
    wsPath: box.dataset.wsPath,
    reconnectMs: Number(box.dataset.reconnectMs) || 12000,
    status: { set: (state) => { box.dataset.state = state === "live" ? "live" : "offline"; } },
    ready: (message) => message.type === "badges",
  });
  box.addEventListener("live-admin:message", (event) => receive(event.detail));
  connection.start(asking);
}
