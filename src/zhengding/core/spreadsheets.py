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

import base64
import csv
import hashlib
import hmac
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any
from xml.etree import ElementTree

import orjson
from python_calamine import CalamineWorkbook

from zhengding.core.errors import ValidationFailed, field_error

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
    """"sheet" (xlsx/xls) or "csv"; anything else is refused with a 422."""
    name = filename.lower()
    if content[:4] == b"PK\x03\x04" or content[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        return "sheet"
    if name.endswith((".xlsx", ".xlsm", ".xls")):
        raise ValidationFailed("文件不是有效的 xlsx 表格，请用 Excel/WPS 另存为 xlsx 后重新上传",
                               [field_error("file", "不是有效的 xlsx 文件")])
    if b"\x00" in content[:4096] or content[:4] in (b"%PDF", b"\x89PNG") or content[:3] == b"\xff\xd8\xff":
        raise ValidationFailed("无法识别的文件格式，请上传 xlsx 或 csv 文件", [field_error("file", "仅支持 xlsx 或 csv")])
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
        raise ValidationFailed("csv 文件编码无法识别，请保存为 UTF-8 或 GBK 编码",
                               [field_error("file", "编码无法识别")]) from None


def _unreadable() -> ValidationFailed:
    return ValidationFailed("表格文件无法读取（文件已损坏或不是 xlsx/csv），请检查后重新上传",
                            [field_error("file", "文件无法读取")])


def sheet_rows(content: bytes) -> list[list[Any]]:
    """All rows of the first sheet (index + 1 = the row number Excel shows)."""
    return list(iter_sheet_rows(content))


def iter_sheet_rows(content: bytes) -> Iterator[list[Any]]:
    """Rows of the first sheet, streamed: iter_rows starts at the sheet's first row (empty
    leading rows included), so the index + 1 is the row number Excel shows."""
    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(content))
        if not workbook.sheet_names:
            return
        rows = workbook.get_sheet_by_index(0).iter_rows()
    except Exception:  # calamine raises several unrelated types for damaged files
        raise _unreadable() from None
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except Exception:
            raise _unreadable() from None
        yield row


def iter_rows(content: bytes, filename: str = "") -> Iterator[list[Any]]:
    """Rows of an xlsx (first sheet) or csv upload, streamed; row i (0-based) is line i + 1."""
    if detect_kind(content, filename) == "sheet":
        yield from iter_sheet_rows(content)
    else:
        yield from csv.reader(io.StringIO(decode_csv(content), newline=""))


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
    payload = orjson.dumps({"u": mark.user_id, "n": mark.name, "t": mark.at, "k": mark.kind},
                           option=orjson.OPT_SORT_KEYS)
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
