"""Nucleic-acid test results linked to returnees (by the ID number's blind index), one row per
(returnee, result): the returnee model has no place for them. Filled by
`zhengding.returnees.nat_link` from the verification domain's NAT listener."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from zhengding.core.models import Base, UTCDateTime, created_at_column, id_column


class ReturneeNatResult(Base):
    __tablename__ = "returnee_nat_results"
    __table_args__ = (UniqueConstraint("returnee_id", "nat_result_id"),)

    id: Mapped[str] = id_column()
    returnee_id: Mapped[str] = mapped_column(ForeignKey("returnees.id"), index=True)
    nat_result_id: Mapped[str] = mapped_column(ForeignKey("nat_results.id"), index=True)
    sampled_at: Mapped[datetime] = mapped_column(UTCDateTime())
    result: Mapped[str] = mapped_column(String(20))  # negative / positive
    lab: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(20))  # file / api
    created_at: Mapped[datetime] = created_at_column()
