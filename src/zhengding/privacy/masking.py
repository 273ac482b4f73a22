"""Masking of personal data in responses (脱敏)."""

from __future__ import annotations

import re


def mask_phone(phone: str | None) -> str | None:
    if not phone:
        return phone
    if len(phone) >= 7:
        return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]
    return "*" * len(phone)


def mask_id_number(id_number: str | None) -> str | None:
    if not id_number:
        return id_number
    if len(id_number) >= 10:
        return id_number[:6] + "*" * (len(id_number) - 10) + id_number[-4:]
    return "*" * len(id_number)


def mask_name(name: str | None) -> str | None:
    if not name:
        return name
    return name[0] + "*" * (len(name) - 1) if len(name) > 1 else "*"


_ID_RE = re.compile(r"(?<!\d)(\d{6})(\d{8})(\d{3}[\dXx])(?!\d)")
# A mobile number also counts when written with the country code (8613812348000) or grouped
# with dashes or spaces (138-1234-8000).
_PHONE_RE = re.compile(r"(?:(?<!\d)|(?<=(?<!\d)86))(1[3-9]\d)[-\s]?(\d{4})[-\s]?(\d{4})(?!\d)")


def scrub(text: str) -> str:
    """Mask anything in free text that looks like an ID number or a mobile phone."""
    text = _ID_RE.sub(lambda m: m.group(1) + "********" + m.group(3)[-4:], text)
    return _PHONE_RE.sub(lambda m: m.group(1) + "****" + m.group(3), text)
