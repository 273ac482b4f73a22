"""Reading uploaded spreadsheets (xlsx via python-calamine, csv) and writing xlsx downloads that
carry an exporter's watermark.

Shared by every import (account roster, verification tasks, nucleic-acid results) and every
export: the rules for what real spreadsheets contain live here once — header texts with noise
("*姓名", "身份证号（可选）"), digit strings that Excel turned into numbers (refused when digits
were lost), csv files saved by Excel/WPS in GBK.

Watermark: a visible header line naming the exporter and time, plus a hidden mark — an
HMAC-signed token (exporter id, name, time, file kind) stored both as a custom document
property and in a very hidden sheet. `trace_xlsx` verifies the signature with the server
secret and returns who exported the file and when (`zhengding trace FILE.xlsx`).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import csv
import dataclasses
import hashlib
import hmac
import io
import logging
import os
import pickle
import re
import resource
import signal
import sys
import zipfile
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any
from xml.etree import ElementTree

import orjson
from python_calamine import CalamineWorkbook

from zhengding.core.errors import AppError, PayloadTooLarge, ValidationFailed, field_error
from zhengding.core.hygiene import CONTROL_REASON, has_control_chars

logger = logging.getLogger(__name__)

_HEADER_NOISE = re.compile(r"[\s*＊]|[（(][^）)]*[）)]")  # "身份证号（可选）", "*姓名", " 手机号 "
_SCIENTIFIC = re.compile(r"[+-]?\d+(\.\d+)?[eE][+-]?\d+")
_INTEGRAL_FLOAT_TEXT = re.compile(r"\d+\.0+")


# --- cells ---------------------------------------------------------------------------------


def cell_text(value: Any) -> str:
    """A cell as text. Integral floats lose their ".0" (Excel stores numbers as floats)."""
    if type(value) is str:
        return value.strip()
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return repr(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value).strip()


def header_key(text: str) -> str:
    return _HEADER_NOISE.sub("", text)


def recover_number(text: str, label: str) -> tuple[str, str | None]:
    """Undo Excel's number formatting of a digit string: "13800138000.0" → "13800138000";
    "1.3800138000E+10" → "13800138000" when every digit is given; "1.38E+10" is lossy → error."""
    if _INTEGRAL_FLOAT_TEXT.fullmatch(text):
        return text.split(".")[0], None
    if _SCIENTIFIC.fullmatch(text):
        try:
            number = Decimal(text)
        except InvalidOperation:
            return text, None
        mantissa = text.lower().split("e")[0].lstrip("+-")
        significant = len(mantissa.replace(".", "").lstrip("0"))
        digits = len(str(abs(int(number)))) if number == number.to_integral_value() else 0
        if digits and significant >= digits:
            return str(int(number)), None
        return text, f"{label}被Excel转成了科学计数法（{text}），位数已丢失，请把该列设为文本后重新填写"
    return text, None


def too_large_float(value: Any, label: str) -> str | None:
    """An 18-digit ID number stored as an Excel number has lost its last digits."""
    if isinstance(value, float) and abs(value) >= 2**53:
        return f"{label}被Excel存成了数字，末几位已丢失，请把该列设为文本后重新填写"
    return None


def numeric_cell(value: Any, text: str, label: str) -> tuple[str, str | None]:
    """A digit-string field (phone, ID number, code) read from a cell Excel may have made a
    number: the recovered digits, or a reason when digits were lost."""
    if not text or (type(value) is str and text.isdigit()):
        return text, None
    problem = too_large_float(value, label)
    if problem:
        return text, problem
    return recover_number(text, label)


# --- files ---------------------------------------------------------------------------------


def detect_kind(content: bytes, filename: str) -> str:
    """ "sheet" (xlsx/xls) or "csv"; anything else is refused with a 422."""
    name = filename.lower()
    if content[:4] == b"PK\x03\x04" or content[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        return "sheet"
    if name.endswith((".xlsx", ".xlsm", ".xls")):
        raise ValidationFailed(
            "文件不是有效的 xlsx 表格，请用 Excel/WPS 另存为 xlsx 后重新上传",
            [field_error("file", "不是有效的 xlsx 文件")],
        )
    if b"\x00" in content[:4096] or content[:4] in (b"%PDF", b"\x89PNG") or content[:3] == b"\xff\xd8\xff":
        raise ValidationFailed(
            "无法识别的文件格式，请上传 xlsx 或 csv 文件", [field_error("file", "仅支持 xlsx 或 csv")]
        )
    return "csv"


def decode_csv(content: bytes) -> str:
    if content.startswith(b"\xef\xbb\xbf"):
        return content[3:].decode("utf-8", errors="strict")
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return content.decode("gb18030")  # Excel/WPS "CSV" on a Chinese Windows
    except UnicodeDecodeError:
        raise ValidationFailed(
            "csv 文件编码无法识别，请保存为 UTF-8 或 GBK 编码", [field_error("file", "编码无法识别")]
        ) from None


def _unreadable() -> ValidationFailed:
    return ValidationFailed(
        "表格文件无法读取（文件已损坏或不是 xlsx/csv），请检查后重新上传",
        [field_error("file", "文件无法读取")],
    )


# --- limits --------------------------------------------------------------------------------
# An upload cannot stall the server or exhaust its memory: `read_rows` parses in a child
# process (its own memory cap and CPU time, off the server's event loop and GIL), refusing
# before calamine expands anything a zip whose parts unpack past the limit or at an abnormal
# ratio, then a sheet whose extent passes the rows or columns limit (trailing empty rows
# included), a cell longer than the limit and, in all, more text than the unpacked limit.
# 413 for the file's size (bytes, unpacked size, ratio, rows, columns, memory, time); 422 for
# one cell, with its row and column. Each message names the limit.

_SMALL_PART = 1_048_576  # parts below this may compress at any ratio (styles, empty sheets)
_FRAME_ROWS = 2000


@dataclass(frozen=True)
class Limits:
    rows: int = 200_000  # data rows below a header
    columns: int = 100
    cell_chars: int = 10_000
    unpacked_bytes: int = 100 * 1_048_576
    ratio: int = 100
    memory_bytes: int = 1024 * 1_048_576  # of the parsing process
    seconds: int = 60  # of CPU (and, with a margin, of wall time) for the parse

    @classmethod
    def current(cls) -> Limits:
        from zhengding.config import get_settings

        s = get_settings()
        return cls(
            rows=s.upload_max_rows,
            columns=s.upload_max_columns,
            cell_chars=s.upload_max_cell_chars,
            unpacked_bytes=s.upload_max_unpacked_mb * 1_048_576,
            ratio=s.upload_max_ratio,
            memory_bytes=s.upload_parse_memory_mb * 1_048_576,
            seconds=s.upload_parse_seconds,
        )


def _too_large(message: str) -> PayloadTooLarge:
    return PayloadTooLarge(message, [field_error("file", message)])


def column_letters(index: int) -> str:
    """0 → "A", 26 → "AA": the column as Excel names it."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def check_archive(content: bytes, limits: Limits) -> None:
    """Refuse a zip bomb from its central directory, before anything is expanded."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, ValueError, EOFError):
        return  # not a zip (an .xls, or damaged): calamine decides, under the process's memory cap
    total = 0
    for part in parts:
        total += part.file_size
        if total > limits.unpacked_bytes:
            raise _too_large(
                f"文件解压后超过 {limits.unpacked_bytes // 1_048_576} MB 上限，请删除多余内容或分批上传"
            )
        if part.file_size > _SMALL_PART and part.file_size > limits.ratio * max(part.compress_size, 1):
            raise _too_large(
                f"文件压缩比超过 {limits.ratio} 倍上限（疑似压缩炸弹），请用 Excel/WPS 另存后重新上传"
            )


def _check_extent(last_row: int, last_column: int, limits: Limits) -> None:
    """`last_row` as Excel numbers it; `last_column` 0-based."""
    if last_row > limits.rows + 1:
        raise _too_large(
            f"表格超过 {limits.rows} 行上限（含空行，最后一行为第 {last_row} 行），请删除多余的空行或分批上传"
        )
    if last_column >= limits.columns:
        raise _too_large(
            f"表格超过 {limits.columns} 列上限（最后一列为 {column_letters(last_column)} 列），"
            "请删除多余的列后重新上传"
        )


def _cell_too_long(row: int, column: int | None, limits: Limits) -> ValidationFailed:
    where = f"第 {row} 行 {column_letters(column)} 列" if column is not None else f"第 {row} 行有单元格"
    message = f"{where}的内容超过 {limits.cell_chars} 字上限"
    return ValidationFailed(message, [field_error("file", message, row)])


def _control_characters(row: int, column: int, header: list[Any] | None) -> ValidationFailed:
    """A cell holding a control character (`core.hygiene`): named by its row and by its
    column's header text (the column letter in the header row itself)."""
    label = header_key(cell_text(header[column])) if header is not None and column < len(header) else ""
    field = label or f"{column_letters(column)} 列"
    message = f"第 {row} 行「{field}」{CONTROL_REASON}（如 NUL、退格等不可见字符），请删除后重新上传"
    return ValidationFailed(message, [field_error(field, CONTROL_REASON, row)])


def _limited(rows: Iterator[list[Any]], limits: Limits) -> Iterator[list[Any]]:
    """Rows with every cell and the text in all checked; row i (0-based) is line i + 1. Text
    with a control character is refused in any cell (tab and line breaks are kept)."""
    text_left = limits.unpacked_bytes
    header: list[Any] | None = None  # the first row with text, as every import finds its header
    for number, row in enumerate(rows, start=1):
        if number > limits.rows + 1:
            _check_extent(number, 0, limits)
        if len(row) > limits.columns:
            _check_extent(number, len(row) - 1, limits)
        for column, value in enumerate(row):
            if type(value) is str:
                if len(value) > limits.cell_chars:
                    raise _cell_too_long(number, column, limits)
                if has_control_chars(value):
                    raise _control_characters(number, column, header)
                text_left -= len(value)
        if header is None and any(cell_text(v) for v in row):
            header = row
        if text_left < 0:
            raise _too_large(f"表格内容超过 {limits.unpacked_bytes // 1_048_576} MB 上限，请分批上传")
        yield row


def _sheet_rows(content: bytes, limits: Limits) -> Iterator[list[Any]]:
    check_archive(content, limits)
    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(content))
        if not workbook.sheet_names:
            return
        sheet = workbook.get_sheet_by_index(0)
    except MemoryError:
        raise
    except Exception:  # calamine raises several unrelated types for damaged files
        raise _unreadable() from None
    if sheet.end is not None:
        _check_extent(sheet.end[0] + 1, sheet.end[1], limits)
    # iter_rows starts at the sheet's first row (empty leading rows included), so the index + 1
    # is the row number Excel shows.
    rows = sheet.iter_rows()
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except MemoryError:
            raise
        except Exception:
            raise _unreadable() from None
        yield row


def _csv_rows(content: bytes, limits: Limits) -> Iterator[list[Any]]:
    reader = csv.reader(io.StringIO(decode_csv(content), newline=""))
    previous = csv.field_size_limit(limits.cell_chars)  # a longer field is refused while it is read
    try:
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                if "field larger" in str(exc):
                    raise _cell_too_long(reader.line_num, None, limits) from None
                raise _unreadable() from None
            yield row
    finally:
        csv.field_size_limit(previous)


def iter_rows(content: bytes, filename: str = "", limits: Limits | None = None) -> Iterator[list[Any]]:
    """Rows of an xlsx (first sheet) or csv upload within the limits, in this process (tests,
    tools, the parsing process itself); row i (0-based) is line i + 1. A server reads an upload
    with `read_rows`."""
    limits = limits or Limits.current()
    if detect_kind(content, filename) == "sheet":
        yield from _limited(_sheet_rows(content, limits), limits)
    else:
        yield from _limited(_csv_rows(content, limits), limits)


async def read_rows(content: bytes, filename: str = "", limits: Limits | None = None) -> Iterator[list[Any]]:
    """The rows of an upload, parsed in a child process within the limits (see above); they
    come back in frames, unpickled one frame at a time as the caller iterates."""
    limits = limits or Limits.current()
    detect_kind(content, filename)  # a file that is no spreadsheet is refused without a process
    args = orjson.dumps({"filename": filename, "limits": dataclasses.asdict(limits)}).decode()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _WORKER, args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
    )
    try:
        async with asyncio.timeout(limits.seconds + 10):
            frames, error = await _exchange(proc, content, limits)
            code = await proc.wait()
    except TimeoutError:
        raise _too_large(f"表格过大：解析超过 {limits.seconds} 秒上限，请分批上传") from None
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    if error is not None:
        raise error
    if code in (-signal.SIGABRT, -signal.SIGSEGV, -signal.SIGKILL, _OUT_OF_MEMORY):
        raise _too_large(f"表格过大：解析所需内存超过 {limits.memory_bytes // 1_048_576} MB 上限，请分批上传")
    if code == -signal.SIGXCPU:
        raise _too_large(f"表格过大：解析超过 {limits.seconds} 秒上限，请分批上传")
    if code != 0:
        logger.warning("spreadsheet parsing process exited with %s", code)
        raise _unreadable()
    return _unpickled(frames)


_WORKER = "from zhengding.core.spreadsheets import parse_worker; parse_worker()"
_OUT_OF_MEMORY = 3  # the parsing process's exit code on a Python MemoryError
_ROWS, _ERROR = b"R", b"E"


async def _exchange(
    proc: asyncio.subprocess.Process, content: bytes, limits: Limits
) -> tuple[deque[bytes], AppError | None]:
    """Feed the upload to the parsing process and collect its frames (bounded in all)."""
    assert proc.stdin is not None and proc.stdout is not None
    stdin, stdout = proc.stdin, proc.stdout

    async def feed() -> None:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            stdin.write(content)
            await stdin.drain()
        stdin.close()

    feeding = asyncio.ensure_future(feed())
    frames: deque[bytes] = deque()
    budget = 2 * limits.unpacked_bytes + _SMALL_PART  # pickled rows are at most about twice their text
    error: AppError | None = None
    try:
        while True:
            try:
                head = await stdout.readexactly(5)
            except asyncio.IncompleteReadError:
                break
            size = int.from_bytes(head[1:], "big")
            budget -= size
            if budget < 0:
                raise _too_large(f"表格内容超过 {limits.unpacked_bytes // 1_048_576} MB 上限，请分批上传")
            body = await stdout.readexactly(size)
            if head[:1] == _ERROR:
                error = _app_error(orjson.loads(body))
            else:
                frames.append(body)
    finally:
        await feeding
    return frames, error


def _app_error(data: dict[str, Any]) -> AppError:
    if data["status"] == PayloadTooLarge.status:
        return PayloadTooLarge(data["message"], data["details"])
    return ValidationFailed(data["message"], data["details"])


class _CellUnpickler(pickle.Unpickler):
    """Cells are plain values and datetimes: nothing else may come out of a frame."""

    def find_class(self, module: str, name: str) -> Any:
        if module == "datetime" and name in ("date", "time", "datetime", "timedelta", "timezone"):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not a cell value")


def _unpickled(frames: deque[bytes]) -> Iterator[list[Any]]:
    while frames:
        yield from _CellUnpickler(io.BytesIO(frames.popleft())).load()


def parse_worker() -> None:
    """The parsing process: limits from argv, the upload on stdin, frames on stdout."""
    args = orjson.loads(sys.argv[1])
    limits = Limits(**args["limits"])
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (limits.seconds, limits.seconds + 5))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # an abort at the memory cap dumps nothing
    os.nice(10)  # the server's requests come first on a busy CPU
    content = sys.stdin.buffer.read()
    out = sys.stdout.buffer

    def frame(kind: bytes, body: bytes) -> None:
        out.write(kind + len(body).to_bytes(4, "big") + body)

    try:
        batch: list[list[Any]] = []
        for row in iter_rows(content, args["filename"], limits):
            batch.append(row)
            if len(batch) == _FRAME_ROWS:
                frame(_ROWS, pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL))
                batch = []
        if batch:
            frame(_ROWS, pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL))
    except AppError as exc:
        frame(_ERROR, orjson.dumps({"status": exc.status, "message": exc.message, "details": exc.details}))
    except MemoryError:
        os._exit(_OUT_OF_MEMORY)
    out.flush()


# --- watermark -----------------------------------------------------------------------------

MARK_PROPERTY = "zd-mark"
MARK_SHEET = "zd_mark"


@dataclass(frozen=True)
class Mark:
    user_id: str
    name: str
    at: str  # ISO 8601
    kind: str  # what was exported


def _sign(secret: str, payload: bytes) -> str:
    key = hashlib.sha256(("xlsx-watermark:" + secret).encode()).digest()
    return hmac.new(key, payload, hashlib.sha256).hexdigest()


def make_mark(secret: str, mark: Mark) -> str:
    payload = orjson.dumps(
        {"u": mark.user_id, "n": mark.name, "t": mark.at, "k": mark.kind}, option=orjson.OPT_SORT_KEYS
    )
    return base64.urlsafe_b64encode(payload).decode().rstrip("=") + "." + _sign(secret, payload)


def read_mark(secret: str, token: str) -> Mark | None:
    """The mark when the token's signature is valid; None when it was forged or altered."""
    body, _, signature = token.strip().partition(".")
    try:
        payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        data = orjson.loads(payload)
    except (ValueError, orjson.JSONDecodeError):
        return None
    if not hmac.compare_digest(_sign(secret, payload), signature):
        return None
    return Mark(user_id=data["u"], name=data["n"], at=data["t"], kind=data["k"])


def watermark_workbook(book: Any, secret: str, mark: Mark) -> str:
    """Add the hidden mark to an open xlsxwriter Workbook (call before close); returns the token."""
    token = make_mark(secret, mark)
    book.set_custom_property(MARK_PROPERTY, token)
    sheet = book.add_worksheet(MARK_SHEET)
    sheet.write_string(0, 0, token)
    sheet.very_hidden()
    return token


def marks_in_xlsx(content: bytes) -> list[str]:
    """Every watermark token found in a file: the custom property and the very hidden sheet."""
    tokens: list[str] = []
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            if "docProps/custom.xml" in archive.namelist():
                root = ElementTree.fromstring(archive.read("docProps/custom.xml"))
                for prop in root:
                    if prop.get("name") == MARK_PROPERTY:
                        tokens += [child.text or "" for child in prop]
    except zipfile.BadZipFile:
        return []
    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(content))
        if MARK_SHEET in workbook.sheet_names:
            rows = workbook.get_sheet_by_name(MARK_SHEET).to_python()
            if rows and rows[0]:
                tokens.append(cell_text(rows[0][0]))
    except Exception:  # a damaged sheet must not hide the property's mark
        pass
    return [t for t in dict.fromkeys(tokens) if t]


def trace_xlsx(content: bytes, secret: str) -> tuple[Mark | None, list[str]]:
    """(the verified mark, or None; the tokens found) — a token that fails verification names nobody."""
    tokens = marks_in_xlsx(content)
    for token in tokens:
        mark = read_mark(secret, token)
        if mark is not None:
            return mark, tokens
    return None, tokens
