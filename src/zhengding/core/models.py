"""Declarative base with a constraint naming convention (Alembic batch mode on SQLite needs names)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, MetaData, String, TypeDecorator
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from zhengding.core.clock import as_utc, now, to_utc
from zhengding.core.ids import new_id

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """An instant: written as UTC, read back as aware UTC, on both SQLite and PostgreSQL.

    SQLite has no time zones: the column holds the UTC wall time as text, so the offset must
    be applied before writing (SQLAlchemy's SQLite DATETIME drops it) — and text comparisons
    in SQL (`deadline < :now`) then order by instant. PostgreSQL stores timestamptz. A naive
    value is refused: its instant is unknown."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):  # type: ignore[no-untyped-def]
        if value is None:
            return None
        utc = to_utc(value)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value, dialect):  # type: ignore[no-untyped-def]
        return as_utc(value)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


def id_column() -> Mapped[str]:
    return mapped_column(String(26), primary_key=True, default=new_id)


def created_at_column() -> Mapped[datetime]:
    return mapped_column(UTCDateTime(), default=now, nullable=False)
