from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from zhengding.core.models import Base, created_at_column, id_column


class OrgUnit(Base):
    """A unit of the directory tree. `path` is the materialised path of ids: "/<root>/<child>/…/<self>/"."""

    __tablename__ = "org_units"

    id: Mapped[str] = id_column()
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("org_units.id"), index=True)
    path: Mapped[str] = mapped_column(String(600), index=True, unique=True)
    name: Mapped[str] = mapped_column(String(100), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    level: Mapped[int] = mapped_column(Integer)
    division_code: Mapped[str | None] = mapped_column(String(12), unique=True)
    sort_key: Mapped[str] = mapped_column(String(40), default="")
    created_at: Mapped[datetime] = created_at_column()


class Membership(Base):
    """A person's place in a unit, with a position (职务)."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("user_id", "unit_id"),)

    id: Mapped[str] = id_column()
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    unit_id: Mapped[str] = mapped_column(ForeignKey("org_units.id"), index=True)
    position: Mapped[str] = mapped_column(String(50), default="")
    is_primary: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = created_at_column()


class OrgVersion(Base):
    """One row (id 1) whose `version` the database bumps on any change to who is in which unit:
    rows of `org_units` or `memberships` added or removed, a membership's user or unit, a unit's
    path (triggers, migrations 0009 and 0010; a rename or a position edit leaves it), whoever
    writes: the service, a bulk import, a hand-run SQL statement. A process that caches who belongs to a unit (orgs/service.py,
    `subtree_members`) keeps an answer only while the version it was read at is current, so a
    cache on any node is never staler than the database."""

    __tablename__ = "org_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(BigInteger, default=0)
