"""Exported spreadsheets carry the exporter's watermark: a visible line (who, when, "内部资料
严禁外传") in the first row and the page header, and a hidden HMAC-signed mark (custom property
and very hidden sheet, `core.spreadsheets.watermark_workbook`) that `zhengding trace FILE.xlsx`
verifies. Shared by every export (verification tasks and statistics, the returnee list); each
caller masks personal data in its rows and audits the export.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from zhengding.authz.actor import Actor
from zhengding.config import get_settings
from zhengding.core import spreadsheets
from zhengding.core.clock import local_text, now
from zhengding.core.sheetwriter import SheetBook

Column = tuple[str, str]  # (key in the row, header text)


def mark_line(actor: Actor, at: datetime) -> str:
    shown = local_text(at)
    return f"导出人：{actor.name}（{actor.unit_name or ''}）  导出时间：{shown}  内部资料 严禁外传"


def watermarked_xlsx(
    actor: Actor, kind: str, title: str, columns: Sequence[Column], rows: Iterable[dict[str, Any]]
) -> bytes:
    """One sheet: the watermark line, the header row, then the rows (None blank, numbers as
    numbers, datetimes in Beijing time, booleans 是/否, the rest as text). `kind` names what was
    exported in the hidden mark (shown by `zhengding trace`)."""
    at = now()
    xlsx = SheetBook()
    sheet = xlsx.sheet(title[:31])
    text = mark_line(actor, at)
    sheet.ws.set_header(f"&L{text}")
    warn = xlsx.style(font_color="#C00000", italic=True)
    head = xlsx.style(bold=True, bg_color="#F2F2F2")
    sheet.text(0, 0, text, warn)
    sheet.row(1, 0, [label for _, label in columns], head)
    for r, row in enumerate(rows, start=2):
        for c, (key, _) in enumerate(columns):
            value = row.get(key)
            sheet.cell(r, c, local_text(value) if isinstance(value, datetime) else value)
    sheet.ws.set_column(0, len(columns) - 1, 14)
    sheet.ws.freeze_panes(2, 0)
    spreadsheets.watermark_workbook(
        xlsx.book,
        get_settings().secret_key,
        spreadsheets.Mark(user_id=actor.user_id, name=actor.name, at=at.isoformat(), kind=kind),
    )
    return xlsx.close()


def export_day() -> str:
    """The date in export file names (Beijing time)."""
    return local_text(now(), "%Y%m%d")
