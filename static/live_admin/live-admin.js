/* django-live-admin: loads what a live page uses, as native ES modules (no build step): the
 * changelist's or the change form's module, presence and change badges; the index pages, the
 * badges alone. A page whose modules cannot be loaded (an upgrade served without its new static
 * files) says it is offline, and stays the stock page it is. Configured by data-* attributes. */
(function () {
  "use strict";

  const script = document.currentScript;
  const base = script ? script.src.replace(/[^/]*$/, "") : "";
  const page = document.getElementById("live-admin");
  const wanted = [];
  if (page && page.dataset.theme) {
    wanted.push(page.dataset.pk !== undefined ? "changeform.js" : "changelist.js", "presence.js");
  }
  if (document.getElementById("live-admin-badges")) wanted.push("badges.js");

  function offline() {
    if (!page || page.dataset.liveState === "offline") return;
    page.dataset.liveState = "offline";
    page.querySelector(".live-admin-label").textContent = JSON.parse(page.dataset.strings).offline;
  }

  for (const name of wanted) import(base + name).catch(offline);
})();
