"""Read the tables (and any element's text by id) out of an HTML document: the page as written, or the DOM a
headless browser dumped after the scripts ran."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class ParsedTable:
    attrs: dict[str, str]
    keys: list[str] = field(default_factory=list)  # the headers' data-key
    headers: list[str] = field(default_factory=list)
    rows: list[list[tuple[str, dict[str, str]]]] = field(default_factory=list)  # (text, attributes) per cell

    def column(self, key: str) -> list[tuple[str, dict[str, str]]]:
        i = self.keys.index(key)
        return [row[i] for row in self.rows]


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: dict[str, ParsedTable] = {}
        self.text_by_id: dict[str, str] = {}
        self._table: ParsedTable | None = None
        self._cell: list | None = None  # [text parts, attrs, is header]
        self._ids: list[tuple[str, str, list[str]]] = []  # open elements with an id: (tag, id, text parts)
        self.images: list[str] = []
        self._row: list = []

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        if tag == "img":
            self.images.append(a.get("src", ""))
        if "id" in a and tag not in ("img", "br", "meta"):
            self._ids.append((tag, a["id"], []))
        if tag == "table":
            self._table = ParsedTable(a)
            self.tables[a.get("id", str(len(self.tables)))] = self._table
        elif tag == "tr" and self._table is not None:
            self._row = []
        elif tag in ("td", "th") and self._table is not None:
            self._cell = [[], a, tag == "th"]
            if tag == "th":
                self._table.keys.append(a.get("data-key", ""))

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self._table is not None:
            text = "".join(self._cell[0]).strip()
            if self._cell[2]:
                self._table.headers.append(text)
            else:
                self._row.append((text, self._cell[1]))
            self._cell = None
        elif tag == "tr" and self._table is not None and self._row:
            self._table.rows.append(self._row)
            self._row = []
        elif tag == "table":
            self._table = None
        if self._ids and self._ids[-1][0] == tag:
            _, id_, parts = self._ids.pop()
            self.text_by_id[id_] = "".join(parts)

    def handle_data(self, data):
        if self._cell is not None:
            self._cell[0].append(data)
        for _, _, parts in self._ids:
            parts.append(data)


def parse(document: str) -> _Parser:
    parser = _Parser()
    parser.feed(document)
    parser.close()
    return parser
