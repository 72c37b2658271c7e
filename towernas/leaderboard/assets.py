"""The page's own CSS and scripts, inlined into ``index.html`` (no CDN, no network, no package data).

``SORT_SCRIPT`` makes every ``table.sortable`` sortable by clicking (or Enter on) a header: numerically when
every non-empty ``data-sort`` of the column is a number, else by text; missing values last in either
direction; ties keep their order. Once set up it marks each table ``data-sort-ready="1"``; a sort sets
``data-sorted-by="<key>:asc|desc"`` and the header's ``aria-sort``. The URL hash ``#sort=<table id>:<key>``
(``:desc`` for descending) sorts on load, so a sorted view can be linked. ``ERROR_TRAP`` (first in
``<head>``) writes any script error into ``#js-errors``, which stays empty on a healthy page.
"""

CSS = """
:root { --fg: #1d2330; --muted: #5b6475; --line: #d9dde5; --head: #eef1f6; --best: #fff6d6; --accent: #2a5db0; }
* { box-sizing: border-box; }
body { margin: 0; font: 13px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
       color: var(--fg); background: #fafbfc; }
header { padding: 18px 28px 10px; background: #fff; border-bottom: 1px solid var(--line); }
h1 { margin: 0 0 4px; font-size: 22px; }
h2 { margin: 28px 0 8px; font-size: 18px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h3 { margin: 18px 0 6px; font-size: 15px; }
main { padding: 0 28px 40px; }
nav a, a { color: var(--accent); text-decoration: none; }
.note { color: var(--muted); margin: 4px 0 10px; }
.scroll { overflow-x: auto; max-width: 100%; }
table.sortable { border-collapse: collapse; background: #fff; border: 1px solid var(--line); margin: 6px 0 12px; }
caption { text-align: left; color: var(--muted); padding: 4px 0; caption-side: top; }
th, td { padding: 3px 7px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
td.num { white-space: nowrap; }
th { min-width: 4em; }
th { background: var(--head); position: sticky; top: 0; cursor: pointer; user-select: none; font-weight: 600; }
th:hover { background: #e1e7f0; }
th[aria-sort="ascending"]::after { content: " \\25B2"; font-size: 10px; }
th[aria-sort="descending"]::after { content: " \\25BC"; font-size: 10px; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tbody tr:nth-child(even) { background: #f7f8fa; }
tr.best, tbody tr.best:nth-child(even) { background: var(--best); }
tr.reference td { font-style: italic; }
.figures { display: flex; flex-wrap: wrap; gap: 14px; }
figure { margin: 6px 0; background: #fff; border: 1px solid var(--line); padding: 6px; }
figure img { display: block; max-width: 100%; height: auto; }
figcaption { color: var(--muted); font-size: 12px; margin-top: 4px; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: 2px 14px; margin: 6px 0 10px; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; }
#js-errors { color: #a00; background: #fee; padding: 8px 28px; margin: 0; }
code { font-size: 12px; }
"""

ERROR_TRAP = """
window.onerror = function (message, source, line) {
  var box = document.getElementById("js-errors");
  var text = message + " (" + source + ":" + line + ")\\n";
  if (box) { box.textContent += text; box.hidden = false; }
};
"""

SORT_SCRIPT = """
(function () {
  "use strict";
  function value(cell) {
    if (!cell) { return ""; }
    var v = cell.getAttribute("data-sort");
    return v === null ? cell.textContent.trim() : v;
  }
  function isNumber(v) { return v !== "" && isFinite(Number(v)); }
  function sortBy(table, index, descending) {
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var values = rows.map(function (r) { return value(r.cells[index]); });
    var numeric = values.every(function (v) { return v === "" || isNumber(v); });
    var order = rows.map(function (r, i) { return i; });
    order.sort(function (a, b) {
      var x = values[a], y = values[b];
      if (x === "" || y === "") { return (x === "") - (y === "") || a - b; }
      var c = numeric ? Number(x) - Number(y) : x.localeCompare(y, undefined, {numeric: true});
      return (descending ? -c : c) || a - b;
    });
    order.forEach(function (i) { body.appendChild(rows[i]); });
    var headers = table.tHead.rows[0].cells;
    for (var h = 0; h < headers.length; h++) { headers[h].removeAttribute("aria-sort"); }
    headers[index].setAttribute("aria-sort", descending ? "descending" : "ascending");
    table.setAttribute("data-sorted-by", headers[index].getAttribute("data-key") + (descending ? ":desc" : ":asc"));
  }
  function setUp(table) {
    var headers = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(headers, function (th, index) {
      th.tabIndex = 0;
      var toggle = function () { sortBy(table, index, th.getAttribute("aria-sort") === "ascending"); };
      th.addEventListener("click", toggle);
      th.addEventListener("keydown", function (e) { if (e.key === "Enter") { toggle(); } });
    });
    table.setAttribute("data-sort-ready", "1");
  }
  function fromHash() {
    var m = /^#sort=([^:]+):([^:]+)(:desc)?$/.exec(decodeURIComponent(window.location.hash));
    if (!m) { return; }
    var table = document.getElementById(m[1]);
    if (!table || !table.tHead) { return; }
    var headers = Array.prototype.slice.call(table.tHead.rows[0].cells);
    var index = headers.findIndex(function (th) { return th.getAttribute("data-key") === m[2]; });
    if (index >= 0) { sortBy(table, index, Boolean(m[3])); }
  }
  document.querySelectorAll("table.sortable").forEach(setUp);
  fromHash();
  window.addEventListener("hashchange", fromHash);
})();
"""
