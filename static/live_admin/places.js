/* django-live-admin: the rows of a changelist, and places on the page that survive a swap of
 * its list: a row by its key, a control by its row and name, the focus and caret, the scroll.
 * A native ES module: unminified, no build step. */

/** The helpers for the rows and places of a page laid out as ``sel`` (its theme's map). */
export function places(sel) {
  const rowsShown = () => Array.from(document.querySelectorAll(sel.row + ":not(.live-admin-gone)"));

  /** A row's pk: its action checkbox's value, else (no actions, a view-only user) read from
   * its change link, undoing the admin's quote() (``_XX`` for a few characters). */
  function pkOf(row) {
    const box = row.querySelector("input.action-select");
    if (box) return box.value;
    const own = `a[href^="${CSS.escape(location.pathname)}"]`; // its own change link
    const link = row.querySelector(`th ${own}`) || row.querySelector(`td ${own}`);
    const found = link && link.getAttribute("href").match(/\/([^/?#]+)\/change\/(?:[?#]|$)/);
    if (!found) return null;
    return decodeURIComponent(found[1]).replace(/_([0-9A-F]{2})/g, (_, hex) => String.fromCharCode(parseInt(hex, 16)));
  }

  function rowKey(row) {
    const box = row.querySelector("input.action-select");
    if (box) return box.value;
    const link = row.querySelector("th a, td a");
    return link ? link.getAttribute("href") : null;
  }

  /** The row shown whose key (by ``keyOf``: rowKey, or pkOf) is ``key``. */
  function rowOf(key, keyOf = rowKey) {
    return rowsShown().find((row) => keyOf(row) === key) || null;
  }

  /** Where a control is, in terms that survive a swap: its row's key, and its name without the
   * formset index, or its link. */
  function placeOf(node) {
    if (!node || node === document.body || !node.closest) return null;
    const row = node.closest(sel.row);
    return {
      row: row ? rowKey(row) : null,
      name: node.name ? node.name.replace(/^form-\d+-/, "") : null,
      href: node.getAttribute("href"),
      id: node.id || null,
      start: typeof node.selectionStart === "number" ? node.selectionStart : null,
      end: typeof node.selectionEnd === "number" ? node.selectionEnd : null,
    };
  }

  function find(place) {
    const scope = place.row !== null ? rowOf(place.row) : document;
    if (!scope) return null;
    const nodes = Array.from(scope.querySelectorAll(place.name ? "[name]" : place.href ? "a[href]" : "[id]"));
    return nodes.find((node) =>
      place.name ? node.name.replace(/^form-\d+-/, "") === place.name
        : place.href ? node.getAttribute("href") === place.href
          : node.id === place.id) || null;
  }

  function restoreFocus(place) {
    const node = place && find(place);
    if (!node || node === document.activeElement) return;
    node.focus({ preventScroll: true });
    if (place.start !== null) {
      try {
        node.setSelectionRange(place.start, place.end);
      } catch { /* a control without a caret */ }
    }
  }

  /** The first row in view and where it is on the screen, so that rows added or removed above
   * it do not move what the user reads. */
  function anchorRow() {
    for (const row of rowsShown()) {
      const top = row.getBoundingClientRect().top;
      if (top >= 0) return { key: rowKey(row), top, x: window.scrollX, y: window.scrollY };
    }
    return { key: null, top: 0, x: window.scrollX, y: window.scrollY };
  }

  function backToAnchor(anchor) {
    window.scrollTo(anchor.x, anchor.y);
    const row = anchor.key !== null && anchor.y > 0 && rowOf(anchor.key);
    if (row) window.scrollBy(0, row.getBoundingClientRect().top - anchor.top);
  }

  function keepingPlace(change) {
    const anchor = anchorRow();
    change();
    backToAnchor(anchor);
  }

  return { rowsShown, pkOf, rowKey, rowOf, placeOf, find, restoreFocus, anchorRow, backToAnchor, keepingPlace };
}
