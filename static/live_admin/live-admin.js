/* django-live-admin: the one classic script of a live page. The page's own code is native ES
 * modules (no build step), loaded by the page's <script type="module"> tags; they run before
 * the page's load event. A page whose modules did not run by then (an upgrade served without
 * its new static files) says it is offline, and stays the stock page it is. */
(function () {
  "use strict";

  window.addEventListener("load", () => {
    const page = document.getElementById("live-admin");
    if (!page || page.dataset.liveModules || !page.dataset.theme || !("WebSocket" in window)) return;
    page.dataset.liveState = "offline";
    page.querySelector(".live-admin-label").textContent = JSON.parse(page.dataset.strings).offline;
  });
})();
