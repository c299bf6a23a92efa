/* django-live-admin: change badges on the links to live models' changelists (index, app index,
 * sidebar): how many objects changed since this user last opened each list. Rides the socket of
 * live-admin.js on a live page, else opens one of its own; helpers.js loads first. No build step. */
(function (root) {
  "use strict";

  const box = document.getElementById("live-admin-badges");
  if (!box || !("WebSocket" in root) || !root.liveAdminHelpers) return;
  const models = JSON.parse(box.dataset.models || "[]");
  if (!models.length) return;
  const { format, retryWait } = root.liveAdminHelpers;
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

  // A live page: its own socket, asked again each time the page subscribes on a new one.
  const page = document.getElementById("live-admin");
  if (page && page.liveAdmin) {
    page.addEventListener("live-admin:message", (event) => {
      const message = event.detail;
      if (message.type === "subscribed" && message.id === "page") page.liveAdmin.send(asking());
      else receive(message);
    });
    if (page.dataset.liveState === "live") page.liveAdmin.send(asking());
    return;
  }

  // The index and app index: a socket of the badges' own, back after a server restart.
  const reconnectMs = Number(box.dataset.reconnectMs) || 12000;
  let attempt = 0;
  let socket = null;
  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + box.dataset.wsPath);
    socket.onopen = () => socket.send(JSON.stringify(asking()));
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (message.type === "badges") attempt = 0;
      receive(message);
    };
    socket.onclose = (event) => {
      socket = null;
      box.dataset.state = "offline";
      // Logged out, not allowed, or the user's other pages hold every socket they may open.
      if ([4401, 4403, 4429].includes(event.code)) return;
      setTimeout(connect, retryWait(attempt++, 0, reconnectMs));
    };
  }
  connect();
})(typeof window !== "undefined" ? window : globalThis);
