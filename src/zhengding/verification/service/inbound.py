"""Nucleic-acid results pushed by a source system over the signed inbound API
(POST /api/inbound/nat-results, see docs/inbound-nat-results.md).

The request is authenticated by `zhengding.returnees.service.inbound.authenticate_request`
(same sources and keys, HMAC-SM3, ±300 s, nonce once). Each item is validated by hand (field
-level reasons, unknown fields refused: `core/records.py`, as for returnee registrations), then claimed in `nat_inbound_receipts` under its
idempotency key per source — the sender's `sample_id`, else the ID number's blind index and the
sample time. The claim is INSERT … ON CONFLICT DO NOTHING, so two concurrent posts of one item
record it once; an item whose key is already claimed answers `replayed` (same cleaned content,
the original answer) or `conflict` (different content) and changes nothing. Claimed items go
through `nat.record_results(session, None, …, source="api")`: linked to tasks (and, through the
listeners, to returnees), and a positive alerts the owning units at once (an urgent inbox entry
of kind "alert" for every member of the unit's subtree, SMS when unread).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import orjson
from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.audit import service as audit
from zhengding.core import records
from zhengding.core.clock import now
from zhengding.core.hashing import sm3_hex
from zhengding.core.ids import new_id
from zhengding.privacy import idcard
from zhengding.privacy.crypto import blind_index
from zhengding.returnees.models import InboundSource
from zhengding.verification import nat
from zhengding.verification.enums import NatResult
from zhengding.verification.models import NatInboundReceipt, NatTestResult

MAX_BATCH = 500
FIELDS: records.Fields = {  # every field is a text
    "id_number": (True, 18),
    "sampled_at": (True, 40),
    "result": (True, 10),
    "lab": (True, 200),
    "sample_id": (False, 64),
}
RESULTS = {"negative": NatResult.NEGATIVE, "positive": NatResult.POSITIVE}


@dataclass
class Clean:
    id_number: str
    sampled_at: datetime
    result: str
    lab: str
    sample_id: str | None

    def key(self, bidx: str) -> str:
        if self.sample_id:
            return "s:" + self.sample_id
        return "p:" + bidx + ":" + str(int(self.sampled_at.timestamp()))

    def digest(self) -> str:
        return sm3_hex(
            orjson.dumps(
                {
                    "id_number": self.id_number,
                    "sampled_at": self.sampled_at.astimezone(UTC).isoformat(),
                    "result": self.result,
                    "lab": self.lab,
                    "sample_id": self.sample_id,
                },
                option=orjson.OPT_SORT_KEYS,
            )
        )


def parse_item(item: Any) -> tuple[Clean | None, list[dict[str, str]]]:
    """(clean, []) when valid, else (None, [{field, reason}, …])."""
    clean, errors = records.read_fields(item, FIELDS, "结果")
    if clean is None:
        return None, errors
    if "id_number" in clean:
        clean["id_number"], reason = idcard.clean_id_number(clean["id_number"])
        if reason:
            errors.append({"field": "id_number", "reason": reason})
    sampled: datetime | None = None
    if "sampled_at" in clean:
        try:
            sampled = datetime.fromisoformat(clean["sampled_at"])
        except ValueError:
            sampled = None
        if sampled is None or sampled.tzinfo is None:
            errors.append(
                {"field": "sampled_at", "reason": "应为带时区的 ISO 8601 时间，如 2022-01-25T08:30:00+08:00"}
            )
            sampled = None
        elif sampled > now() + timedelta(minutes=5):
            errors.append({"field": "sampled_at", "reason": "采样时间晚于当前时间"})
    if "result" in clean and clean["result"] not in RESULTS:  # exactly the documented values
        errors.append({"field": "result", "reason": "应为 negative（阴性）或 positive（阳性）"})
    if errors or sampled is None:
        return None, errors
    return Clean(
        clean["id_number"], sampled, str(RESULTS[clean["result"]]), clean["lab"], clean.get("sample_id")
    ), []


@dataclass
class ItemAnswer:
    index: int
    sample_id: str | None
    status: str  # accepted | replayed | rejected | conflict
    result: dict[str, Any] | None = None
    errors: list[dict[str, str]] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "sample_id": self.sample_id, "status": self.status}
        if self.result is not None:
            out.update(self.result)
        if self.errors is not None:
            out["errors"] = self.errors
        return out


_CONFLICT = [{"field": "sample_id", "reason": "该样本（或同一人同一采样时间）已提交过不同的内容"}]


async def receive_results(session: AsyncSession, source: InboundSource, items: list[Any]) -> list[ItemAnswer]:
    answers: dict[int, ItemAnswer] = {}
    claims: list[tuple[int, Clean, str, str, str]] = []  # index, clean, bidx, key, digest
    for index, item in enumerate(items):
        clean, errors = parse_item(item)
        if clean is None:
            sid = item.get("sample_id") if isinstance(item, dict) else None
            answers[index] = ItemAnswer(
                index, sid if isinstance(sid, str) else None, "rejected", errors=errors
            )
            continue
        bidx = blind_index("id_number", clean.id_number)
        claims.append((index, clean, bidx, clean.key(bidx), clean.digest()))
    # Claim every key not yet taken by this source (first in the batch wins within a batch).
    table = cast(Table, NatInboundReceipt.__table__)
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    at = now()
    first: dict[str, tuple[str, str]] = {}  # key → (receipt id, digest) claimed by this request
    rows = []
    for _index, _clean, _bidx, key, digest in claims:
        if key not in first:
            first[key] = (new_id(), digest)
            rows.append(
                {
                    "id": first[key][0],
                    "source_id": source.id,
                    "item_key": key,
                    "digest": digest,
                    "result_id": None,
                    "answer": None,
                    "created_at": at,
                }
            )
    won: set[str] = set()
    for start in range(0, len(rows), 500):
        stmt = (
            dialect.insert(table)
            .values(rows[start : start + 500])
            .on_conflict_do_nothing(index_elements=["source_id", "item_key"])
            .returning(table.c.item_key)
        )
        won |= set((await session.execute(stmt)).scalars())
    prior = await _receipts(session, source.id, [k for k in first if k not in won])
    fresh: list[tuple[int, Clean, str, str]] = []  # index, clean, key, result id
    for index, clean, _bidx, key, digest in claims:
        if key in won and not any(f[2] == key for f in fresh):
            fresh.append((index, clean, key, new_id()))
            continue
        original = prior.get(key) if key not in won else (first[key][1], None)
        same = original is not None and original[0] == digest
        answers[index] = ItemAnswer(
            index,
            clean.sample_id,
            "replayed" if same else "conflict",
            result=(original[1] if same and original is not None and original[1] else None),
            errors=None if same else _CONFLICT,
        )
    if fresh:
        await nat.record_results(
            session,
            None,
            [
                {
                    "id": rid,
                    "id_number": c.id_number,
                    "name": None,
                    "sampled_at": c.sampled_at,
                    "result": c.result,
                    "lab": c.lab,
                }
                for _, c, _, rid in fresh
            ],
            source="api",
        )
        linked = dict(
            (
                await session.execute(
                    select(NatTestResult.id, NatTestResult.linked_tasks).where(
                        NatTestResult.id.in_([rid for *_, rid in fresh])
                    )
                )
            ).all()
        )
        updates: list[dict[str, Any]] = []
        for index, clean, key, rid in fresh:
            stored = rid in linked
            answer = {
                "id": rid if stored else None,
                "result": clean.result,
                "recorded": stored,
                "linked_tasks": linked.get(rid, 0),
            }
            answers[index] = ItemAnswer(index, clean.sample_id, "accepted", result=answer)
            updates.append({"_key": key, "_rid": rid if stored else None, "_answer": answer})
        await session.execute(
            update(table)
            .where(table.c.source_id == source.id, table.c.item_key == bindparam("_key"))
            .values(result_id=bindparam("_rid"), answer=bindparam("_answer")),
            updates,
        )
        # Replays of an item first seen in this very request answer like it.
        for index, item in list(answers.items()):
            if item.status == "replayed" and item.result is None:
                key = next(k for i, c, _, k, _ in claims if i == index)
                item.result = next(u["_answer"] for u in updates if u["_key"] == key)
    out = [answers[i] for i in sorted(answers)]
    counts = records.status_counts(out)
    audit.record(
        session,
        None,
        "verification.nat.received",
        target_type="inbound_source",
        target_id=source.id,
        detail={**counts, "positive": sum(1 for _, c, _, _ in fresh if c.result == NatResult.POSITIVE)},
    )
    return out


async def _receipts(session: AsyncSession, source_id: str, keys: list[str]) -> dict[str, tuple[str, Any]]:
    out: dict[str, tuple[str, Any]] = {}
    for start in range(0, len(keys), 500):
        rows = await session.execute(
            select(NatInboundReceipt.item_key, NatInboundReceipt.digest, NatInboundReceipt.answer).where(
                NatInboundReceipt.source_id == source_id,
                NatInboundReceipt.item_key.in_(keys[start : start + 500]),
            )
        )
        out.update({k: (d, a) for k, d, a in rows})
    return out
