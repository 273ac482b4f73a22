from __future__ import annotations

from sqlalchemy import Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from zhengding.core.models import Base


class Division(Base):
    """An official administrative division (12-digit statistical code)."""

    __tablename__ = "divisions"

    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[int] = mapped_column(Integer)
    parent_code: Mapped[str | None] = mapped_column(String(12), index=True)
    # Statistical placeholders (省直辖县级行政区划, 市辖区, …直辖村级区划): not places.
    placeholder: Mapped[bool] = mapped_column(Boolean, default=False)
