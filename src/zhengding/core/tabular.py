"""Spreadsheet imports: header aliases → cleaned rows + rejected rows → error report.

Shared by the three imports (account roster, verification batches, nucleic-acid results); each
domain declares its columns in a `Columns` and keeps its own field rules. What is the same
for all of them lives here once:

- the header is the first non-empty row; a header text is matched after its noise is removed
  ("*姓名", "身份证号（可选）"); the first column of a field wins, a second one and any text
  no alias knows is an unknown column (kept in the report, named in the answer);
- the 行号 / 错误原因 columns of our own report are ignored, so a corrected report can be
  imported again; a required column missing is a 422 naming each one;
- row numbers are the spreadsheet's own (header = row 1); blank rows are skipped; more than
  `max_rows` data rows is a 413, none at all a 422 (where the import says so);
- digit-string fields (phone, ID number, code) that Excel turned into numbers are recovered,
  or the row carries a problem for that field when digits were lost;
- the rejected rows come back as an xlsx (through SheetBook, the one xlsx writer): the cells as
  they were given, all as text, then 行号 and 错误原因 ("label：reason；…"). The domains store
  it in an EncryptedBlob column, so it is sealed at rest.

Rows are read by `spreadsheets.read_rows` (a child process within the upload limits) and
yielded one at a time, so an import may work through them in chunks.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from zhengding.core import spreadsheets
from zhengding.core.errors import PayloadTooLarge, ValidationFailed, field_error
from zhengding.core.sheetwriter import SheetBook

ROW_COLUMN, REASON_COLUMN = "行号", "错误原因"
REPORT_COLUMNS = frozenset({ROW_COLUMN, REASON_COLUMN})  # added by our own report; ignored on re-import


@dataclass(frozen=True)
class Columns:
    """What one import reads: `aliases` header text → field; `labels` field → its name in
    reasons and in the header hint, in header order; `required` fields; `numeric` digit-string
    fields. `blank="fields"` skips a row whose known columns are all empty (an unknown column
    alone does not make a row), the default skips a row only when every column is empty."""

    aliases: Mapping[str, str]
    labels: Mapping[str, str]
    required: tuple[str, ...]
    max_rows: int
    too_many: str  # the 413's message
    no_rows: str | None  # the 422's message when the header has no row under it (None: no 422)
    numeric: frozenset[str] = frozenset()
    hint: bool = True  # name the expected header after the missing columns
    blank: Literal["columns", "fields"] = "columns"

    def missing_message(self, missing: list[str]) -> str:
        text = f"表头缺少必填列：{'、'.join(missing)}"
        if not self.hint:
            return text
        required = [self.labels[f] for f in self.labels if f in self.required]
        optional = [self.labels[f] for f in self.labels if f not in self.required]
        return f"{text}（表头应为：{'、'.join(required)}，可选{'、'.join(optional)}）"


@dataclass(slots=True)
class Row:
    """One data row: `cells` the texts of the upload's own columns (report columns dropped),
    `values` field → text (digit strings recovered), `problems` field errors found while reading
    the cells (a digit string Excel made lossy)."""

    number: int
    cells: list[str]
    values: dict[str, str]
    problems: list[dict[str, Any]]
    _raw: list[Any]
    _positions: Mapping[str, int]

    def raw(self, name: str) -> Any:
        """The cell of a field as the parser gave it (a number, a datetime, a text), or None."""
        pos = self._positions.get(name)
        return self._raw[pos] if pos is not None and pos < len(self._raw) else None


@dataclass(slots=True)
class Rejected:
    number: int
    cells: list[str]
    errors: list[dict[str, Any]]


@dataclass
class Table:
    """The header of an upload and its rows, read lazily (`rows()` may be iterated once)."""

    spec: Columns
    columns: list[str]  # the upload's own header texts, report columns excluded
    unknown_columns: list[str]
    _fields: dict[int, str]
    _kept: list[int]
    _rest: Iterator[list[Any]]
    _first_number: int

    @property
    def fields(self) -> set[str]:
        return set(self._fields.values())

    def rows(self) -> Iterator[Row]:
        spec = self.spec
        cell_text = spreadsheets.cell_text
        kept = self._kept
        positions = {f: p for p, f in self._fields.items()}
        slots = [(i, self._fields[p]) for i, p in enumerate(kept) if p in self._fields]
        numeric = [(p, f) for p, f in self._fields.items() if f in spec.numeric]
        by_fields = spec.blank == "fields"
        field_positions = list(self._fields)
        count = 0
        for number, raw in enumerate(self._rest, start=self._first_number):
            width = len(raw)
            texts = [cell_text(raw[p]) if p < width else "" for p in kept]
            if by_fields:
                if not any(cell_text(raw[p]) for p in field_positions if p < width):
                    continue
            elif not any(texts):
                continue
            count += 1
            if count > spec.max_rows:
                raise PayloadTooLarge(spec.too_many)
            values = {f: texts[i] for i, f in slots}
            problems: list[dict[str, Any]] = []
            for p, f in numeric:
                text = values[f]
                if text and (type(raw[p]) is not str or not text.isdigit()):  # a text implies p < width
                    values[f], problem = spreadsheets.numeric_cell(raw[p], text, spec.labels[f])
                    if problem:
                        problems.append(field_error(f, problem, number))
            yield Row(number, texts, values, problems, raw, positions)
        if count == 0 and spec.no_rows is not None:
            raise ValidationFailed(spec.no_rows, [field_error("file", "没有数据行")])


def _empty() -> ValidationFailed:
    return ValidationFailed("上传的文件是空的", [field_error("file", "文件为空")])


async def read_table(content: bytes, filename: str, spec: Columns) -> Table:
    """The header of an upload (422 when it is empty or lacks a required column); its rows
    follow lazily. Parsed in a child process within the upload limits."""
    if not content.strip():
        raise _empty()
    return table_of(await spreadsheets.read_rows(content, filename), spec)


def table_of(raw_rows: Iterable[list[Any]], spec: Columns) -> Table:
    rows = iter(raw_rows)
    header: list[str] | None = None
    line = 0
    for line, raw in enumerate(rows, start=1):  # noqa: B007
        texts = [spreadsheets.cell_text(v) for v in raw]
        if any(texts):
            header = texts
            break
    if header is None:
        raise _empty()
    fields: dict[int, str] = {}
    kept: list[int] = []
    unknown: list[str] = []
    for pos, text in enumerate(header):
        key = spreadsheets.header_key(text)
        if not key or key in REPORT_COLUMNS:
            continue
        kept.append(pos)
        if key in spec.aliases and spec.aliases[key] not in fields.values():
            fields[pos] = spec.aliases[key]
        else:
            unknown.append(text)
    present = set(fields.values())
    missing = [spec.labels[f] for f in spec.required if f not in present]
    if missing:
        raise ValidationFailed(
            spec.missing_message(missing), [field_error("header", f"缺少列：{h}") for h in missing]
        )
    return Table(spec, [header[p] for p in kept], unknown, fields, kept, rows, line + 1)


def errors_of(rejected: Iterable[Rejected], limit: int | None = None) -> list[dict[str, Any]]:
    errors = [e for r in rejected for e in r.errors]
    return errors if limit is None else errors[:limit]


def error_report(
    columns: list[str], rejected: Iterable[Rejected], labels: Mapping[str, str], *, width: int = 16
) -> bytes:
    """The rejected rows as they were given (all cells as text, so phones stay digits),
    followed by 行号 and 错误原因; the header is the upload's own."""
    xlsx = SheetBook(constant_memory=True)
    sheet = xlsx.sheet("错误行")
    head = xlsx.style(bold=True, bg_color="#F2F2F2")
    reason_format = xlsx.style(font_color="#C00000")
    text = xlsx.style(num_format="@")
    n = len(columns)
    sheet.row(0, 0, [*columns, ROW_COLUMN, REASON_COLUMN], head)
    for r, row in enumerate(rejected, start=1):
        for col, value in enumerate(row.cells):
            sheet.text(r, col, value, text)
        sheet.cell(r, n, row.number)
        reasons = "；".join(f"{labels.get(e['field'], e['field'])}：{e['reason']}" for e in row.errors)
        sheet.text(r, n + 1, reasons, reason_format)
    sheet.ws.set_column(0, max(n - 1, 0), width, text)
    sheet.ws.set_column(n + 1, n + 1, 60)
    sheet.ws.freeze_panes(1, 0)
    return xlsx.close()
