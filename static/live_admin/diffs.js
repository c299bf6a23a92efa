/* django-live-admin: what changed, as "Status: Open → Done", read from two renderings the page
 * already has: what it showed, and what it fetched as this user. Nothing new crosses the socket,
 * and a field the admin does not show this user is in neither. A native ES module: unminified,
 * no build step. */

/** Values longer than this are shortened; the whole value is one click (or Enter) away. */
export const SHORT = 80;

const SKIPPED = new Set(["hidden", "password", "file", "submit", "button", "reset", "image"]);

function clean(value) {
  return String(value || "").replace(/\s+/g, " ").trim();
}

/** A label's words: its own text (not the "required" marks themes nest in it), no colon. */
export function labelText(label) {
  const own = Array.from(label.childNodes).filter((n) => n.nodeType === Node.TEXT_NODE).map((n) => n.textContent).join(" ");
  return clean(clean(own) ? own : label.textContent).replace(/[\s:*]+$/, "");
}

/** The field a control belongs to: its name, less a split widget's "_0"/"_1" when the row
 * it is in is that field's (a field named "address_1" stays itself). */
export function fieldOf(node) {
  const base = node.name.replace(/_\d+$/, "");
  return base !== node.name && node.closest(`.field-${CSS.escape(base)}`) ? base : node.name;
}

/** A field's label: the one for its control, else the first of its row (a group of boxes). */
function labelOf(root, node, name, grouped) {
  let label = !grouped && node.id ? root.querySelector(`label[for="${CSS.escape(node.id)}"]`) : null;
  if (!label) {
    const row = node.closest(`.field-${CSS.escape(name)}, fieldset, .form-row`);
    label = row && Array.from(row.querySelectorAll("legend, label")).find((l) => !l.querySelector("input"));
  }
  return label ? labelText(label) : "";
}

/** What each of ``form``'s own fields shows as the server rendered it (not as typed since):
 * name → { label, text }. Hidden inputs, passwords, files, inline rows and the two-box
 * selector are left out; read-only fields are in, by their text. */
export function shownValues(form, strings = {}) {
  const values = new Map();
  const root = form.ownerDocument;
  const put = (name, label, text, join = false, sep = " ") => {
    const was = values.get(name);
    if (was && join) was.parts.push(text);
    else if (!was) values.set(name, { label: label || name, parts: [text], sep });
  };
  const groups = new Map(); // checkbox and radio names: how many controls share each
  for (const node of form.elements) {
    if (node.name && (node.type === "checkbox" || node.type === "radio")) {
      groups.set(node.name, (groups.get(node.name) || 0) + 1);
    }
  }
  for (const node of form.elements) {
    const raw = node.name;
    if (!raw || raw.startsWith("_live_") || raw === "csrfmiddlewaretoken" || raw.includes("-")) continue;
    if (SKIPPED.has(node.type) || node.classList.contains("filtered")) continue;
    const name = fieldOf(node); // a split widget's parts (date, time) are one field
    const grouped = groups.get(raw) > 1; // radio buttons, or a box per choice
    const label = labelOf(root, node, name, grouped);
    if (node.tagName === "SELECT") {
      const chosen = Array.from(node.options).filter((o) => o.defaultSelected);
      const shown = chosen.length || node.multiple ? chosen : Array.from(node.options).slice(0, 1);
      put(name, label, shown.map((o) => clean(o.textContent)).join(", "), true);
    } else if (grouped) {
      const choice = node.closest("label");
      put(name, label, node.defaultChecked ? clean(choice ? choice.textContent : node.value) : "", true, ", ");
    } else if (node.type === "checkbox") {
      put(name, label, node.defaultChecked ? strings.yes || "Yes" : strings.no || "No");
    } else {
      put(name, label, clean(node.defaultValue), true);
    }
  }
  for (const box of form.querySelectorAll(".readonly, .grp-readonly")) {
    const row = box.closest('[class*="field-"]');
    const found = row && Array.from(row.classList).find((c) => c.startsWith("field-"));
    if (!found || values.has(found.slice(6))) continue;
    const label = row.querySelector("label");
    put(found.slice(6), label ? labelText(label) : "", clean(box.textContent));
  }
  const shown = new Map();
  for (const [name, { label, parts, sep }] of values) shown.set(name, { label, text: parts.filter(Boolean).join(sep) });
  return shown;
}

/** The fields whose text differs between two readings of one form, in the form's order. */
export function diffs(before, after) {
  const found = [];
  for (const [name, was] of before) {
    const now = after.get(name);
    if (now && now.text !== was.text) found.push({ name, label: now.label || was.label, before: was.text, after: now.text });
  }
  return found;
}

/** The changes as one line, for a screen reader: "Status: Open → Done; Notes: …". */
export function diffText(changes, strings = {}) {
  const empty = strings.empty || "(empty)";
  const short = (t) => (t.length > SHORT ? t.slice(0, SHORT - 1) + "…" : t || empty);
  return changes.map((c) => `${c.label}: ${short(c.before)} → ${short(c.after)}`).join("; ");
}

function value(doc, text, strings) {
  if (!text) {
    const span = doc.createElement("span");
    span.className = "live-admin-empty";
    span.textContent = strings.empty || "(empty)";
    return span;
  }
  if (text.length <= SHORT) return doc.createTextNode(text);
  const details = doc.createElement("details"); // shortened; opened by a click or Enter
  details.className = "live-admin-long";
  const summary = doc.createElement("summary");
  summary.textContent = text.slice(0, SHORT - 1) + "…";
  details.append(summary, doc.createTextNode(text));
  return details;
}

/** The changes as a list: one item a field, "Label: before → after". */
export function diffList(doc, changes, strings = {}) {
  const list = doc.createElement("ul");
  list.className = "live-admin-diff";
  for (const change of changes) {
    const item = doc.createElement("li");
    item.dataset.field = change.name;
    const label = doc.createElement("strong");
    label.textContent = change.label;
    item.append(label, ": ", value(doc, change.before, strings), " → ", value(doc, change.after, strings));
    list.append(item);
  }
  return list;
}

/** What a list cell shows: its control's value (list_editable), else its text (or an icon's
 * alt text), without live_admin's own notes and markers. */
function cellText(cell, strings) {
  const control = cell.querySelector("select, textarea, input:not([type=hidden])");
  if (control && control.tagName === "SELECT") {
    return Array.from(control.selectedOptions, (o) => clean(o.textContent)).join(", ");
  }
  if (control && control.type === "checkbox") return control.checked ? strings.yes || "Yes" : strings.no || "No";
  if (control) return clean(control.value);
  const copy = cell.cloneNode(true);
  copy.querySelectorAll(".live-admin-rownote, .live-admin-here").forEach((node) => node.remove());
  const icon = copy.querySelector("img[alt]");
  return clean(copy.textContent) || (icon ? icon.alt : "");
}

/** How each cell of a list row changed between ``old`` and ``row`` (its fresh rendering),
 * labelled by the column's header. */
export function rowChanges(old, row, strings = {}) {
  const table = old.closest("table") || row.closest("table"); // a copy of the old row has none
  const header = (th) => clean((th.querySelector(".text") || th).textContent); // not sort priorities
  const headers = table ? Array.from(table.querySelectorAll("thead th"), header) : [];
  const theirs = Array.from(row.children);
  const found = [];
  Array.from(old.children).forEach((cell, i) => {
    if (cell.classList.contains("action-checkbox") || !theirs[i]) return;
    const before = cellText(cell, strings);
    const after = cellText(theirs[i], strings);
    if (before !== after) found.push({ name: String(i), label: headers[i] || "", before, after });
  });
  return found;
}

/** Note ``changes`` on ``row``: shown while the pointer is on the row or focus is in it. */
export function noteRow(row, changes, strings = {}) {
  row.querySelectorAll(".live-admin-rownote").forEach((node) => node.remove());
  const cell = row.querySelector("th") || row.querySelector("td:not(.action-checkbox)");
  if (!changes.length || !cell) return;
  const note = row.ownerDocument.createElement("div");
  note.className = "live-admin-rownote";
  note.setAttribute("role", "note");
  note.append(diffList(row.ownerDocument, changes, strings));
  cell.append(note);
}
