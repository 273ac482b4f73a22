"""Resident ID numbers (GB 11643-1999): checksum, normalisation, 15→18 digit upgrade."""

from __future__ import annotations

import re
from datetime import date

from zhengding.core.clock import now

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_FULLWIDTH = str.maketrans("０１２３４５６７８９ｘＸ", "0123456789XX")


def check_digit(first17: str) -> str:
    return _CHECK[sum(int(c) * w for c, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def normalize(raw: str) -> str:
    return re.sub(r"\s+", "", raw.translate(_FULLWIDTH)).upper()


def upgrade_15(old: str) -> str:
    """A 15-digit ID (before 1999) → its 18-digit form (century 19 inserted, checksum added)."""
    first17 = old[:6] + "19" + old[6:]
    return first17 + check_digit(first17)


def validation_error(id_number: str) -> str | None:
    """None when valid; otherwise the reason in Chinese."""
    if not re.fullmatch(r"\d{17}[\dX]", id_number):
        return "身份证号应为18位（最后一位可为X）"
    try:
        born = date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
    except ValueError:
        return "身份证号中的出生日期无效"
    if born.year < 1900 or born > now().date():
        return "身份证号中的出生日期无效"
    if check_digit(id_number[:17]) != id_number[17]:
        return "身份证号校验位不正确"
    return None


def clean_id_number(raw: str) -> tuple[str, str | None]:
    """Normalise as typed (spaces, full-width digits, 15-digit old numbers) and check it:
    (the normalised number, None) or (the normalised number, the reason it is invalid)."""
    number = normalize(raw)
    if len(number) == 15 and number.isdigit():
        number = upgrade_15(number)
    return number, validation_error(number)


def is_valid(id_number: str) -> bool:
    return validation_error(id_number) is None


PHONE_RE = re.compile(r"1[3-9]\d{9}")


def normalize_phone(raw: str) -> str:
    digits = re.sub(r"[\s\-]", "", raw.translate(_FULLWIDTH))
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits


def phone_error(phone: str) -> str | None:
    return None if PHONE_RE.fullmatch(phone) else "手机号应为11位中国大陆手机号"
