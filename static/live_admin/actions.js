/* django-live-admin: Django's action bar (admin/js/actions.js) set up again on a swapped list,
 * without piling up its listeners. A native ES module: unminified, no build step. */

/** The document's and window's listeners the last run of ``Actions`` added. */
const added = [];

/** Run ``Actions(boxes, options)`` (Django's) for a fresh list. Each run adds listeners to the
 * document and the window (keys, pageshow) that close over the list it was given: those of the
 * previous run are removed first, so a list open all day holds one set, not one per swap. */
export function setUpActions(win, boxes, options) {
  if (typeof win.Actions !== "function") return;
  for (const [target, type, listener, opts] of added.splice(0)) target.removeEventListener(type, listener, opts);
  const saved = [win.document, win].map((target) => {
    const own = Object.prototype.hasOwnProperty.call(target, "addEventListener");
    const add = target.addEventListener;
    target.addEventListener = function (type, listener, opts) {
      added.push([target, type, listener, opts]);
      return add.call(target, type, listener, opts);
    };
    return [target, own, add];
  });
  try {
    win.Actions(boxes, options);
  } finally {
    for (const [target, own, add] of saved) {
      if (own) target.addEventListener = add;
      else delete target.addEventListener; // the prototype's again
    }
  }
}
