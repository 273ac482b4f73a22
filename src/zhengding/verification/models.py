"""Key-person verification: batches, tasks, their history, replies, transfers, nucleic-acid
results, and the statistics summary cells behind the dashboards."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from zhengding.core.models import Base, created_at_column, id_column
from zhengding.orgs.moves import PathColumn
from zhengding.privacy.types import Encrypted, EncryptedBlob


class VerificationBatch(Base):
    """One import (批次): its counts, its deadline and the xlsx report of its rejected rows."""

    __tablename__ = "verification_batches"

    id: Mapped[str] = id_column()
    name: Mapped[str] = mapped_column(String(200))
    filename: Mapped[str] = mapped_column(String(200), default="")
    created_by: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    unit_id: Mapped[str] = mapped_column(ForeignKey("org_units.id"))
    unit_path: Mapped[str] = mapped_column(String(600), index=True)
    deadline: Mapped[datetime | None]
    total: Mapped[int] = mapped_column(Integer, default=0)
    accepted: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    routed: Mapped[int] = mapped_column(Integer, default=0)
    unknown_columns: Mapped[list[Any]] = mapped_column(JSON, default=list)
    report: Mapped[bytes | None] = mapped_column(EncryptedBlob("verification_batches.report"), deferred=True)
    created_at: Mapped[datetime] = created_at_column()


class VerificationTask(Base):
    """One person to find and verify. `owner_path` is the holding unit's materialised path
    (scope filter); `chain` the units it passed through, root first (the reply climbs it)."""

    __tablename__ = "verification_tasks"
    __table_args__ = (Index("ix_verification_tasks_batch_id_status", "batch_id", "status"),)

    id: Mapped[str] = id_column()
    batch_id: Mapped[str] = mapped_column(ForeignKey("verification_batches.id"))
    row_number: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(Encrypted("verification_tasks.name"))
    id_number: Mapped[str] = mapped_column(Encrypted("verification_tasks.id_number"))
    id_number_bidx: Mapped[str] = mapped_column(String(64), index=True)
    phone: Mapped[str | None] = mapped_column(Encrypted("verification_tasks.phone"))
    phone_bidx: Mapped[str | None] = mapped_column(String(64))
    clue: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(100), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    resolved_code: Mapped[str | None] = mapped_column(String(12))
    clue_unit_id: Mapped[str | None] = mapped_column(String(26))
    clue_unit_path: Mapped[str | None] = mapped_column(String(600))
    status: Mapped[str] = mapped_column(String(20))
    owner_unit_id: Mapped[str] = mapped_column(ForeignKey("org_units.id"))
    owner_path: Mapped[str] = mapped_column(String(600), index=True)
    assignee_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), index=True)
    chain: Mapped[list[Any]] = mapped_column(JSON, default=list)
    review_unit_id: Mapped[str | None] = mapped_column(String(26), index=True)
    transfer_id: Mapped[str | None] = mapped_column(String(26))
    deadline: Mapped[datetime | None]
    overdue: Mapped[bool] = mapped_column(Boolean, default=False)
    nat_result: Mapped[str | None] = mapped_column(String(20))
    nat_sampled_at: Mapped[datetime | None]
    stat_day: Mapped[str] = mapped_column(String(10))  # import day (Asia/Shanghai): the statistics cell
    version: Mapped[int] = mapped_column(Integer, default=0)  # = the last history seq
    created_at: Mapped[datetime] = created_at_column()
    replied_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]


class TaskEvent(Base):
    """One hop of a task's history: who did what, when, from which unit to which."""

    __tablename__ = "verification_task_events"

    task_id: Mapped[str] = mapped_column(ForeignKey("verification_tasks.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(30))
    actor_id: Mapped[str | None] = mapped_column(String(26))
    actor_name: Mapped[str] = mapped_column(String(50), default="")
    from_unit_id: Mapped[str | None] = mapped_column(String(26))
    to_unit_id: Mapped[str | None] = mapped_column(String(26))
    to_user_id: Mapped[str | None] = mapped_column(String(26))
    reason: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class TaskReply(Base):
    """A grid worker's reply 回单; `status` pending → accepted (at the top) or returned."""

    __tablename__ = "verification_replies"

    id: Mapped[str] = id_column()
    task_id: Mapped[str] = mapped_column(ForeignKey("verification_tasks.id"), index=True)
    replier_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    replier_name: Mapped[str] = mapped_column(String(50))
    found: Mapped[bool] = mapped_column(Boolean)
    location: Mapped[str | None] = mapped_column(Encrypted("verification_replies.location"))
    contact: Mapped[str | None] = mapped_column(Encrypted("verification_replies.contact"))
    health_status: Mapped[str] = mapped_column(String(50), default="")
    measure: Mapped[str] = mapped_column(String(50), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    photo_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    return_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at_column()


class TaskPhoto(Base):
    __tablename__ = "verification_photos"

    id: Mapped[str] = id_column()
    task_id: Mapped[str] = mapped_column(ForeignKey("verification_tasks.id"), index=True)
    uploaded_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    content_type: Mapped[str] = mapped_column(String(50))
    data: Mapped[bytes] = mapped_column(EncryptedBlob("verification_photos.data"), deferred=True)
    created_at: Mapped[datetime] = created_at_column()


class TaskTransfer(Base):
    """A transfer 转办 to a unit in another subtree; ownership moves only when it accepts."""

    __tablename__ = "verification_transfers"

    id: Mapped[str] = id_column()
    task_id: Mapped[str] = mapped_column(ForeignKey("verification_tasks.id"), index=True)
    from_unit_id: Mapped[str] = mapped_column(ForeignKey("org_units.id"))
    from_path: Mapped[str] = mapped_column(String(600), index=True)
    to_unit_id: Mapped[str] = mapped_column(ForeignKey("org_units.id"))
    to_path: Mapped[str] = mapped_column(String(600), index=True)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), index=True)
    requested_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    decided_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    reject_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at_column()


class StatCell(Base):
    """Counters of the tasks held in a unit's subtree, per batch and import day: kept current in
    every write transaction (and by the overdue job), so dashboards never scan the task table.
    r0..r9: replies by time to reply (see stats.REPLY_BUCKETS) for the median."""

    __tablename__ = "verification_stat_cells"

    unit_id: Mapped[str] = mapped_column(String(26), primary_key=True)
    batch_id: Mapped[str] = mapped_column(String(26), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    total: Mapped[int] = mapped_column(BigInteger, default=0)
    pending: Mapped[int] = mapped_column(BigInteger, default=0)
    dispatched: Mapped[int] = mapped_column(BigInteger, default=0)
    in_progress: Mapped[int] = mapped_column(BigInteger, default=0)
    replied: Mapped[int] = mapped_column(BigInteger, default=0)
    closed: Mapped[int] = mapped_column(BigInteger, default=0)
    overdue: Mapped[int] = mapped_column(BigInteger, default=0)
    transferring: Mapped[int] = mapped_column(BigInteger, default=0)
    transfer_in: Mapped[int] = mapped_column(BigInteger, default=0)
    transfer_out: Mapped[int] = mapped_column(BigInteger, default=0)
    transfer_rejected: Mapped[int] = mapped_column(BigInteger, default=0)  # our requests the target refused
    transfer_refused: Mapped[int] = mapped_column(BigInteger, default=0)  # requests to us that we refused
    reply_count: Mapped[int] = mapped_column(BigInteger, default=0)
    reply_seconds: Mapped[int] = mapped_column(BigInteger, default=0)
    r0: Mapped[int] = mapped_column(BigInteger, default=0)
    r1: Mapped[int] = mapped_column(BigInteger, default=0)
    r2: Mapped[int] = mapped_column(BigInteger, default=0)
    r3: Mapped[int] = mapped_column(BigInteger, default=0)
    r4: Mapped[int] = mapped_column(BigInteger, default=0)
    r5: Mapped[int] = mapped_column(BigInteger, default=0)
    r6: Mapped[int] = mapped_column(BigInteger, default=0)
    r7: Mapped[int] = mapped_column(BigInteger, default=0)
    r8: Mapped[int] = mapped_column(BigInteger, default=0)
    r9: Mapped[int] = mapped_column(BigInteger, default=0)


class NatImport(Base):
    __tablename__ = "nat_imports"

    id: Mapped[str] = id_column()
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    filename: Mapped[str] = mapped_column(String(200), default="")
    accepted: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    report: Mapped[bytes | None] = mapped_column(EncryptedBlob("nat_imports.report"), deferred=True)
    created_at: Mapped[datetime] = created_at_column()


class NatTestResult(Base):
    """A nucleic-acid test result, linked to tasks and returnees by the ID number's blind index."""

    __tablename__ = "nat_results"
    __table_args__ = (UniqueConstraint("id_number_bidx", "sampled_at", "lab"),)

    id: Mapped[str] = id_column()
    id_number: Mapped[str] = mapped_column(Encrypted("nat_results.id_number"))
    id_number_bidx: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str | None] = mapped_column(Encrypted("nat_results.name"))
    sampled_at: Mapped[datetime]
    result: Mapped[str] = mapped_column(String(20))
    lab: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(20))  # file / api
    import_id: Mapped[str | None] = mapped_column(String(26))
    linked_tasks: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = created_at_column()


class NatInboundReceipt(Base):
    """One item received through the signed inbound API (POST /api/inbound/nat-results): the
    idempotency key per source — the sender's sample id, else the person's ID blind index and
    the sample time — with the SM3 of the cleaned item and the answer given the first time."""

    __tablename__ = "nat_inbound_receipts"
    __table_args__ = (UniqueConstraint("source_id", "item_key"),)

    id: Mapped[str] = id_column()
    source_id: Mapped[str] = mapped_column(
        String(26)
    )  # returnees' inbound_sources.id (no FK: parallel heads)
    item_key: Mapped[str] = mapped_column(String(120))
    digest: Mapped[str] = mapped_column(String(64))
    result_id: Mapped[str | None] = mapped_column(String(26))
    answer: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = created_at_column()


def path_columns() -> list[PathColumn]:
    """The copies of unit paths this domain keeps (rewritten when a unit moves)."""
    return [
        PathColumn(VerificationBatch.unit_path, VerificationBatch.unit_id),
        PathColumn(VerificationTask.owner_path, VerificationTask.owner_unit_id),
        PathColumn(VerificationTask.clue_unit_path, VerificationTask.clue_unit_id),
        PathColumn(TaskTransfer.from_path, TaskTransfer.from_unit_id),
        PathColumn(TaskTransfer.to_path, TaskTransfer.to_unit_id),
    ]
