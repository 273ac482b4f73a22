"""Following an org move (`orgs.moves`): use-case `follow_unit_move`, run in the move's
transaction after the paths were rewritten (`owner_path`, transfers' paths, ...).

What a path rewrite cannot carry:
- Summary cells are kept per unit on the holder's path, so the ancestors the subtree left must
  drop its work and the ones it joined count it. Every counter but the transfer ones is added
  over the holder's whole path, so the moved unit's own cells are exactly what passes from the
  ancestors left to the ancestors joined. Transfer counters sit on the units of one side's path
  that are not on the other's: each decided transfer touching the subtree is taken back with its
  old paths and added again with the new ones.
- A task's chain names the units the reply climbs; a unit the subtree left no longer sees the
  task, so it leaves the chain (as on a transfer, the chain keeps the units still above the
  holder), and a reply waiting at it waits at the next unit above that stays.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.orgs.moves import UnitMoved
from zhengding.verification import repository as repo
from zhengding.verification.cells import COUNTERS, Deltas
from zhengding.verification.enums import TransferStatus
from zhengding.verification.service.common import bulk_update_tasks
from zhengding.verification.service.transfer import _exclusive

_TRANSFER_COUNTERS = ("transfer_in", "transfer_out", "transfer_rejected", "transfer_refused")
_SHIFTED = tuple(c for c in COUNTERS if c not in _TRANSFER_COUNTERS)


async def follow_unit_move(session: AsyncSession, moved: UnitMoved) -> None:
    deltas = Deltas()
    if moved.left or moved.joined:
        for cell in await repo.cells_of_unit(session, moved.unit_id):
            for column in _SHIFTED:
                if cell[column]:
                    deltas.add(moved.left, cell["batch_id"], cell["day"], column, -cell[column])
                    deltas.add(moved.joined, cell["batch_id"], cell["day"], column, cell[column])
    for t in await repo.decided_transfers_under(session, moved.new_path):
        out, in_ = (
            ("transfer_out", "transfer_in")
            if t.status == TransferStatus.ACCEPTED
            else ("transfer_rejected", "transfer_refused")
        )
        old_from, old_to = moved.old_of(t.from_path), moved.old_of(t.to_path)
        deltas.add(_exclusive(old_from, old_to), t.batch_id, t.stat_day, out, -1)
        deltas.add(_exclusive(old_to, old_from), t.batch_id, t.stat_day, in_, -1)
        deltas.add(_exclusive(t.from_path, t.to_path), t.batch_id, t.stat_day, out, 1)
        deltas.add(_exclusive(t.to_path, t.from_path), t.batch_id, t.stat_day, in_, 1)
    await deltas.apply(session)
    await _prune_chains(session, moved)


async def _prune_chains(session: AsyncSession, moved: UnitMoved) -> None:
    left = set(moved.left)
    if not left:
        return
    updates = []
    for task_id, chain, review_unit_id in await repo.chains_under(session, moved.new_path):
        if not left.intersection(chain):
            continue
        kept = [u for u in chain if u not in left]
        review = review_unit_id
        if review in left:
            above = [u for u in chain[: chain.index(review)] if u not in left]
            review = above[-1] if above else (kept[0] if kept else None)
        updates.append({"id": task_id, "chain": kept, "review_unit_id": review})
    await bulk_update_tasks(session, updates, ["chain", "review_unit_id"])
