/* django-live-admin: a live change form. A pristine form takes another user's changes in place
 * (focus, caret and scroll stay); a form with unsaved edits is never overwritten, and says what
 * changed. Only the server's word marks the object deleted: a re-fetch that fails is retried.
 * A native ES module: unminified, no build step. */

import { diffList, diffs, diffText, shownValues } from "./diffs.js";
import { edited, format, refetchWait, serially } from "./helpers.js";
import { carryOrigin, livePage, pageSubscription } from "./page.js";

/** How long one re-fetch of the form may take. */
export const FETCH_TIMEOUT_MS = 15000;

/** What a re-fetch of the change form found: the ``form`` as the admin renders it now, the
 * object ``gone`` (a 404, or the admin's redirect away from a missing object), the session
 * ``loggedOut`` (the socket's close says so), or ``failed``: no word from the admin (a 5xx, a
 * network error, a time-out), which is never read as a deletion. */
export async function fetchForm({ url, loginUrl, selector, fetcher = fetch, timeoutMs = FETCH_TIMEOUT_MS }) {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  try {
    const response = await fetcher(url, { headers: { "X-Live-Admin-Refresh": "1" }, signal: abort.signal });
    if (response.redirected && loginUrl && new URL(response.url).pathname === loginUrl) return { kind: "loggedOut" };
    if (response.status === 404 || (response.redirected && response.ok)) return { kind: "gone" };
    if (!response.ok) return { kind: "failed", status: response.status };
    const doc = new DOMParser().parseFromString(await response.text(), "text/html");
    const form = doc.querySelector(selector);
    return form ? { kind: "form", form } : { kind: "failed", status: response.status };
  } catch {
    return { kind: "failed", status: 0 };
  } finally {
    clearTimeout(timer);
  }
}

const p = livePage();
if (p && p.isForm) changeform(p);

function changeform(p) {
  const { sel, text, el, cfg } = p;
  let formState = null;
  let failures = 0;
  /** Per control the user is in: the value to take when they leave it unchanged (the latest). */
  const onLeave = new Map();

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
      window.scrollTo(0, info.scrollY);
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

  /** ``banner``'s text, buttons, and each changed field as "Label: before → after". */
  function banner(message, buttons, changes = []) {
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
    if (changes.length) box.append(diffList(document, changes, text));
    p.status.tell(null, changes.length ? `${message} ${diffText(changes, text)}` : message);
  }

  function deleted() {
    banner(text.deleted, []);
    // Every save button of the form, in it or tied to it from outside (form="…"), and the
    // object's delete link: nothing is left to save or to delete.
    const form = document.querySelector(sel.changeForm);
    Array.from(form ? form.elements : []).filter((node) => node.type === "submit")
      .forEach((button) => { button.disabled = true; });
    const deleteUrl = location.pathname.replace(/change\/$/, "delete/");
    document.querySelectorAll("a[href]").forEach((link) => {
      if (new URL(link.href, location.href).pathname !== deleteUrl) return;
      link.removeAttribute("href");
      link.setAttribute("aria-disabled", "true");
      link.classList.add("live-admin-disabled");
    });
    el.dataset.objectDeleted = "true";
  }

  /** What to say of a change: who made it, and when (in the admin's time zone, as its own
   * times are shown; the browser's where the zone is unknown to it). */
  function saidOf(message) {
    const when = new Date(message.at || Date.now());
    let at;
    try {
      at = when.toLocaleTimeString(undefined, cfg.timeZone ? { timeZone: cfg.timeZone } : {});
    } catch {
      at = when.toLocaleTimeString();
    }
    return message.by ? format(text.changedBy, { by: message.by, at }) : format(text.changed, { at });
  }

  async function formChanged(message) {
    if (message.action === "deleted") return deleted();
    const said = saidOf(message);
    const keep = (changes = []) => {
      banner(said + " " + text.keepEdits, [[text.reload, () => reloadKeepingPlace(said, message.fields)]], changes);
      highlight(message.fields || []);
    };
    // What the page showed, and what the admin renders for this user now.
    const compared = (fresh) => diffs(shownValues(formState.form, text), shownValues(fresh, text));
    if (dirty()) {
      keep(); // at once; then what changed, read from a fresh rendering that is not applied
      const fresh = await fetchNewest();
      if (fresh && fresh.kind === "form" && dirty()) keep(compared(fresh.form));
      return;
    }
    const found = await refetch();
    if (found === null) return; // another re-fetch answers for this change
    if (found.kind !== "form") return found.kind === "gone" ? deleted() : undefined;
    if (dirty()) return keep(compared(found.form)); // the user started typing meanwhile
    const changes = compared(found.form);
    const changed = updateForm(found.form);
    if (changed === null) return reloadKeepingPlace(said, message.fields || []);
    banner(said, [], changes);
    highlight(message.fields && message.fields.length ? message.fields : changed);
  }

  /** Re-fetch the form: one at a time, the newest answer wins. While one is under way, a
   * later call waits for it and fetches once more; the calls it overtook get null. A failure
   * says so and tries again later; saving stays possible. */
  const fetchNewest = serially(() => fetchForm({ url: location.href, loginUrl: cfg.loginUrl, selector: sel.changeForm }));

  async function refetch() {
    const found = await fetchNewest();
    if (found === null) return null; // a later re-fetch answers for this one
    if (found.kind === "failed") {
      banner(text.checkFailed, []);
      el.dataset.checkFailures = String(++failures);
      setTimeout(checkForm, refetchWait(failures - 1));
    } else if (failures) {
      failures = 0;
      const box = document.getElementById("live-admin-banner");
      if (box && box.textContent === text.checkFailed) box.remove();
    }
    return found;
  }

  /** Put the fresh form's values into the page's form, in place: focus, caret, scroll and the
   * admin's widgets stay. A control the user is in keeps its value until they leave it
   * unchanged. Returns the names that changed, or null when the forms differ in shape (an
   * inline row came or went), which takes a reload. */
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
    const holding = pairs.some(([node]) => node === document.activeElement);
    const oldToken = token ? token[0].value : null;
    for (const [node, source] of pairs) {
      if (node === (token && token[0])) continue;
      changed.add(fieldName(node.name));
      if (node === document.activeElement) leaveLater(node, source, token, oldToken);
      else adopt(node, source);
    }
    if (token && !holding) adopt(token[0], token[1]);
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

  /** The user is in ``node``: when they leave it unchanged, it takes the newest ``source`` (one
   * listener per control, however many updates came meanwhile). */
  function leaveLater(node, source, token, oldToken) {
    const waiting = onLeave.has(node);
    onLeave.set(node, { source, token, oldToken });
    if (waiting) return;
    node.addEventListener("blur", () => {
      const latest = onLeave.get(node);
      onLeave.delete(node);
      if (edited(node)) return;
      adopt(node, latest.source);
      if (latest.token && latest.token[0].value === latest.oldToken) adopt(latest.token[0], latest.token[1]);
      formState.initial = formData(formState.form);
    }, { once: true });
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
    const found = await refetch();
    el.dataset.checks = String(Number(el.dataset.checks || 0) + 1); // for tests to wait on
    if (found === null || found.kind === "loggedOut" || found.kind === "failed") return;
    if (found.kind === "gone") return deleted();
    if (formData(found.form) !== formState.rendered) formChanged({ action: "saved", fields: [] });
  }

  function reloadKeepingPlace(message, fields) {
    sessionStorage.setItem(
      "live-admin-reloaded:" + location.pathname,
      JSON.stringify({ message, fields: fields || [], scrollY: window.scrollY }),
    );
    location.reload();
  }

  p.on("message", (message) => {
    if (message.type === "subscribed" && message.id === "page" && formState && formState.reloaded) {
      formState.reloaded = false;
      checkForm(); // changes may have come between the reload and the subscription
    } else if (message.type === "changed" && message.origin !== p.origin) {
      formChanged(message);
    }
  });
  p.on("away", checkForm);

  p.dirty = dirty;
  document.querySelectorAll(sel.changeForm).forEach((f) => carryOrigin(p, f));
  setUpForm();
  p.connection.start(() => pageSubscription(p));
}
