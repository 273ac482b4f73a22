"""Writing xlsx files. Every export and every import's error report goes through `SheetBook`, so
no text from a user, an upload or another system ever becomes a formula (CSV/formula injection:
a name "=HYPERLINK(...)" or "@SUM(...)" that Excel would run when the file is opened).

- The workbook is opened with strings_to_formulas, strings_to_numbers and strings_to_urls off,
  and text is always written with `write_string`: a string cell, never an <f> element.
- A text beginning with one of OWASP's triggers (= + - @ tab CR) also carries Excel's quote
  prefix (the leading ' that Excel shows in the edit bar only): the cell shows the text as it
  is, and editing it in Excel does not turn it into a formula either. The text itself is kept
  intact — an ID number, a reason or a phone such as "+86…" reads back unchanged.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any

import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def looks_like_formula(text: str) -> bool:
    return text.startswith(FORMULA_TRIGGERS)


class SheetBook:
    """An in-memory xlsx workbook; `close()` returns its bytes."""

    def __init__(self, *, constant_memory: bool = False) -> None:
        self._out = io.BytesIO()
        self.book = xlsxwriter.Workbook(
            self._out,
            {
                "in_memory": True,
                "constant_memory": constant_memory,
                "strings_to_formulas": False,
                "strings_to_numbers": False,
                "strings_to_urls": False,
            },
        )
        self._props: dict[int, dict[str, Any]] = {}
        self._quoted: dict[int | None, Format] = {}

    def style(self, **props: Any) -> Format:
        """A cell format (xlsxwriter's properties); its quote-prefixed twin is made on demand."""
        fmt = self.book.add_format(props)
        self._props[id(fmt)] = props
        return fmt

    def quoted(self, style: Format | None) -> Format:
        key = None if style is None else id(style)
        if key not in self._quoted:
            props = {} if style is None else self._props.get(id(style), {})
            self._quoted[key] = self.book.add_format({**props, "quote_prefix": True})
        return self._quoted[key]

    def sheet(self, name: str | None = None) -> Sheet:
        return Sheet(self, self.book.add_worksheet(name))

    def close(self) -> bytes:
        self.book.close()
        return self._out.getvalue()


class Sheet:
    """One worksheet; `ws` is xlsxwriter's for layout (columns, panes, header, hiding)."""

    def __init__(self, owner: SheetBook, ws: Worksheet) -> None:
        self.owner, self.ws = owner, ws

    def text(self, row: int, col: int, value: str, style: Format | None = None) -> None:
        if looks_like_formula(value):
            style = self.owner.quoted(style)
        self.ws.write_string(row, col, value, style)

    def cell(self, row: int, col: int, value: Any, style: Format | None = None) -> None:
        """None blank, booleans 是/否, numbers as numbers, anything else as text."""
        if value is None:
            self.ws.write_blank(row, col, None, style)
        elif isinstance(value, bool):
            self.text(row, col, "是" if value else "否", style)
        elif isinstance(value, int | float):
            self.ws.write_number(row, col, value, style)
        else:
            self.text(row, col, str(value), style)

    def row(self, row: int, col: int, values: Iterable[Any], style: Format | None = None) -> None:
        for offset, value in enumerate(values):
            self.cell(row, col + offset, value, style)
