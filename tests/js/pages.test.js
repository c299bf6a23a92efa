// The change form's re-fetch and the action bar's set-up, under node with a small DOM
// (happy-dom): what a failed re-fetch means, and that swaps leave no listeners behind.
import assert from "node:assert/strict";
import test from "node:test";

import { Window } from "happy-dom";

import { setUpActions } from "../../static/live_admin/actions.js";

const dom = new Window({ url: "http://example.test/admin/shop/order/1/change/" });
globalThis.DOMParser = dom.DOMParser;
const { fetchForm } = await import("../../static/live_admin/changeform.js");

const FORM = '<html><body><form id="order_form"><input name="name" value="Ann"></form></body></html>';
const form = { url: "http://example.test/admin/shop/order/1/change/", loginUrl: "/admin/login/", selector: "#order_form" };

function answer(status, { body = FORM, redirectedTo = null } = {}) {
  return async () => ({
    status,
    ok: status >= 200 && status < 300,
    redirected: redirectedTo !== null,
    url: redirectedTo || form.url,
    text: async () => body,
  });
}

test("a re-fetch that fails is not a deletion", async () => {
  for (const status of [500, 502, 503, 504, 403]) {
    const found = await fetchForm({ ...form, fetcher: answer(status, { body: "Bad Gateway" }) });
    assert.equal(found.kind, "failed", `HTTP ${status}`);
  }
  const refused = async () => { throw new TypeError("Failed to fetch"); };
  assert.equal((await fetchForm({ ...form, fetcher: refused })).kind, "failed");
  // An answer that never comes within the time given: failed, not gone.
  const hung = (url, { signal }) => new Promise((resolve, reject) => {
    signal.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")));
  });
  assert.equal((await fetchForm({ ...form, fetcher: hung, timeoutMs: 10 })).kind, "failed");
  // A page without the form (a proxy's own page, say) is no word from the admin either.
  const other = answer(200, { body: "<html><body>Maintenance</body></html>" });
  assert.equal((await fetchForm({ ...form, fetcher: other })).kind, "failed");
});

test("only the admin's own word marks the object gone, or the session over", async () => {
  assert.equal((await fetchForm({ ...form, fetcher: answer(404) })).kind, "gone");
  const away = answer(200, { body: "<html></html>", redirectedTo: "http://example.test/admin/" });
  assert.equal((await fetchForm({ ...form, fetcher: away })).kind, "gone");
  const login = answer(200, { body: "<html></html>", redirectedTo: "http://example.test/admin/login/?next=x" });
  assert.equal((await fetchForm({ ...form, fetcher: login })).kind, "loggedOut");
  const found = await fetchForm({ ...form, fetcher: answer(200) });
  assert.equal(found.kind, "form");
  assert.equal(found.form.querySelector("input").getAttribute("value"), "Ann");
});

test("setting the action bar up again leaves one set of its listeners, not one per swap", () => {
  const win = new Window();
  const heard = [];
  let runs = 0;
  // As Django's actions.js: each run listens on the document and the window, for its list.
  win.Actions = function () {
    const run = ++runs;
    win.document.addEventListener("keydown", () => heard.push(["keydown", run]));
    win.addEventListener("pageshow", () => heard.push(["pageshow", run]));
  };
  const own = [win.document.addEventListener, win.addEventListener];
  for (let i = 0; i < 12; i++) setUpActions(win, [], undefined);
  win.document.dispatchEvent(new win.KeyboardEvent("keydown"));
  win.dispatchEvent(new win.Event("pageshow"));
  assert.deepEqual(heard, [["keydown", 12], ["pageshow", 12]]);
  // The document's and window's own addEventListener are theirs again.
  assert.deepEqual([win.document.addEventListener, win.addEventListener], own);
});
