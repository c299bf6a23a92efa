/* django-live-admin: what a live page says about itself — the status in the corner of the page
 * (#live-admin), and announcements for screen readers, at most one every ten seconds.
 * A native ES module: unminified, no build step. */

import { summary } from "./helpers.js";

/** Where the installation docs say how to route the live connection (a refused handshake). */
export const INSTALL_DOCS = "https://django-live-admin.readthedocs.io/en/latest/installation.html";
const ANNOUNCE_EVERY = 10000;

export class Status {
  constructor(el, text, sel, loginUrl) {
    this.el = el;
    this.text = text;
    this.sel = sel;
    this.loginUrl = loginUrl;
    this.label = el.querySelector(".live-admin-label");
    this.announcer = document.getElementById("live-admin-announce");
    this.told = { changed: 0, added: 0, removed: 0, message: null };
    this.lastTold = -Infinity;
    this.tellTimer = null;
    if (sel.layer) el.style.zIndex = String(sel.layer);
    if (sel.bottomBar) {
      const place = () => this.place();
      place();
      for (const event of ["resize", "scroll", "change"]) window.addEventListener(event, place, { passive: true });
      el.addEventListener("live-admin:refreshed", place);
    }
  }

  /** Show ``state`` (connecting, live, reconnecting, waiting, delayed, offline), in the words of
   * ``reason`` when there is one. */
  set(state, reason) {
    const el = this.el;
    if (el.dataset.liveState !== state) el.dispatchEvent(new CustomEvent("live-admin:state", { detail: state }));
    el.dataset.liveState = state;
    if (reason) el.dataset.liveReason = reason;
    else delete el.dataset.liveReason;
    this.label.textContent = (state === "live" && el.dataset.problem) || this.text[reason || state];
    el.title = this.label.textContent;
    if (reason === "loggedOut" && this.loginUrl) {
      // In a tab of its own: what this page holds unsaved stays where it is.
      this.link(this.loginUrl + "?next=" + encodeURIComponent(location.pathname + location.search), this.text.logIn);
    } else if (reason === "refused") {
      this.link(INSTALL_DOCS, this.text.installDocs);
    }
  }

  link(href, words) {
    const link = document.createElement("a");
    link.href = href;
    link.target = "_blank";
    link.rel = "noopener";
    link.textContent = words;
    this.label.append(" ", link);
  }

  /** Above the bars a theme fixes at the bottom of the window (stacked, some shown only while
   * rows are ticked), not over their buttons. */
  place() {
    let lift = 0;
    let bars = [];
    try {
      bars = document.querySelectorAll(this.sel.bottomBar);
    } catch { /* a selector this browser cannot read (:has): the stock place */ }
    for (const bar of bars) {
      if (!["fixed", "sticky"].includes(getComputedStyle(bar).position)) continue;
      const box = bar.getBoundingClientRect();
      if (box.height && box.bottom > window.innerHeight - 100) lift = Math.max(lift, window.innerHeight - box.top);
    }
    this.el.style.bottom = lift ? lift + 12 + "px" : "";
  }

  /** Announce rows changed, added and removed (added up), or ``message``; not more often
   * than once every ten seconds. */
  tell(counts, message) {
    for (const kind of ["changed", "added", "removed"]) this.told[kind] += (counts && counts[kind]) || 0;
    if (message) this.told.message = message;
    const wait = this.lastTold + ANNOUNCE_EVERY - Date.now();
    if (wait <= 0) this.say();
    else if (this.tellTimer === null) this.tellTimer = setTimeout(() => this.say(), wait);
  }

  say() {
    this.tellTimer = null;
    // A message of one change (what changed in one row) is said only if nothing else was.
    const alone = this.told.changed <= 1 && !this.told.added && !this.told.removed;
    const words = (alone && this.told.message) || summary(this.told, this.text);
    this.told.changed = this.told.added = this.told.removed = 0;
    this.told.message = null;
    if (!words || !this.announcer) return;
    this.announcer.textContent = words;
    this.lastTold = Date.now();
    this.el.dataset.announcements = String(Number(this.el.dataset.announcements || 0) + 1);
  }

  /** A passing problem with what the page shows (a re-fetch that failed), said until cleared. */
  problem(words) {
    if (words) this.el.dataset.problem = words;
    else delete this.el.dataset.problem;
    if (this.el.dataset.liveState === "live") this.label.textContent = words || this.text.live;
  }
}
