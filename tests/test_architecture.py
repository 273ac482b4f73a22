"""Architecture rules the whole code base keeps (#14 point 6)."""

from __future__ import annotations

import ast
import configparser
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.authz.test_route_matrix import _walk
from tests.conftest import SETTINGS
from zhengding.app import create_app
from zhengding.authz.matrix import matrix
from zhengding.core import outbox
from zhengding.core.db import Database
from zhengding.core.events import Event, publish_event
from zhengding.core.ids import new_id
from zhengding.core.outbox import OutboxRow

ROOT = Path(__file__).resolve().parents[1]
CONTRACTS = ROOT / ".importlinter"


def _ignored_imports() -> dict[str, list[str]]:
    parser = configparser.ConfigParser()
    parser.read(CONTRACTS, encoding="utf-8")
    return {
        section.removeprefix("importlinter:contract:"): [
            line.strip() for line in parser[section].get("ignore_imports", "").splitlines() if line.strip()
        ]
        for section in parser.sections()
        if section.startswith("importlinter:contract:")
    }


class TestImportContracts:
    """#14 point 2: layers that only point down, workflows independent, core at the bottom, no
    cycle at any depth — the contracts in .importlinter, checked by import-linter."""

    # The imports that still break a contract (each contract's `ignore_imports`). A ratchet:
    # lower a number when you remove entries, never raise one.
    MAX_IGNORED = {"layers": 6, "workflows": 4, "core": 1, "acyclic": 13}

    def test_contracts_hold(self) -> None:
        lint_imports = Path(sys.executable).with_name("lint-imports")
        result = subprocess.run(
            [str(lint_imports), "--no-cache", "--no-logo", str(CONTRACTS)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        # "No matches for ignored import": the import is gone, so delete its entry and lower
        # MAX_IGNORED below.
        assert result.returncode == 0, result.stdout + result.stderr
        assert "0 broken" in result.stdout

    def test_every_contract_is_counted(self) -> None:
        assert set(_ignored_imports()) == set(self.MAX_IGNORED)

    def test_ignore_lists_only_shrink(self) -> None:
        counts = {name: len(entries) for name, entries in _ignored_imports().items()}
        grown = {name: n for name, n in counts.items() if n > self.MAX_IGNORED.get(name, 0)}
        assert not grown, f"ignore_imports grew (limits {self.MAX_IGNORED}): {grown}"


# --- transactions (#14 point 6): one commit per request or job, side effects only on commit ----

SRC = ROOT / "src" / "zhengding"
PROBE_HANDLER = "architecture.probe"


def _commit_calls(paths: Iterable[Path]) -> list[str]:
    """`<anything>.commit(...)` calls in these Python files, as "path:line" under src/zhengding."""
    found = []
    for path in paths:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        found += [
            f"{path.relative_to(SRC)}:{node.lineno}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "commit"
        ]
    return found


async def _probe_rows(session: AsyncSession, marker: str) -> int:
    rows = (await session.execute(select(OutboxRow.payload).where(OutboxRow.handler == PROBE_HANDLER))).all()
    return sum(1 for (payload,) in rows if payload.get("marker") == marker)


class TestTransactions:
    """The unit of work (core/db.py, the request's session in http/routing.py, the outbox
    worker) commits; services, repositories and routers never do. Events published and outbox
    rows enqueued in a transaction exist only if it commits."""

    # Files outside core that commit, each for a reason. The request's unit of work lives in
    # http/routing.py (commit before the 2xx, `commit_anyway` for a refusal's audit row).
    UNITS_OF_WORK = {"http/routing.py"}
    # A ratchet: the inbound group commit moves to core/db beside the unit of work (#14 point 5);
    # delete the entry when it does, never add one.
    NOT_YET_MOVED = {"returnees/service/ingest.py"}

    def test_no_commit_outside_core(self) -> None:
        outside = sorted(path for path in SRC.rglob("*.py") if path.relative_to(SRC).parts[0] != "core")
        files = {call.split(":")[0] for call in _commit_calls(outside)}
        assert files - self.UNITS_OF_WORK - self.NOT_YET_MOVED == set(), (
            "commit() belongs to the unit of work in zhengding/core: services, repositories and "
            "routers register their changes in the session they are given"
        )
        assert self.NOT_YET_MOVED <= files, "this file no longer commits: delete it from NOT_YET_MOVED"

    def test_the_scan_sees_the_commits_of_core(self) -> None:
        # What makes the rule above able to fail: the same scan finds the unit of work's own.
        assert any(
            call.startswith("core/db.py:") for call in _commit_calls(sorted((SRC / "core").rglob("*.py")))
        )

    async def test_a_rolled_back_unit_of_work_publishes_no_event_and_leaves_no_outbox_row(
        self, db: Database, captured_events: list[Event]
    ) -> None:
        marker = new_id()

        class Refused(Exception):
            pass

        with pytest.raises(Refused):
            async with db.unit_of_work() as session:
                publish_event(session, "architecture.probe.published", {"marker": marker}, users=[marker])
                outbox.enqueue(session, PROBE_HANDLER, {"marker": marker})
                await session.flush()  # the row has reached the database inside the transaction
                assert await _probe_rows(session, marker) == 1
                raise Refused

        assert [e for e in captured_events if e.payload.get("marker") == marker] == []
        async with db.unit_of_work(readonly=True) as session:
            assert await _probe_rows(session, marker) == 0

    async def test_a_committed_unit_of_work_publishes_its_event_and_keeps_its_outbox_row(
        self, db: Database, captured_events: list[Event]
    ) -> None:
        """The counterpart of the rollback test: the same steps, committed, are seen."""
        marker = new_id()
        async with db.unit_of_work() as session:
            publish_event(session, "architecture.probe.published", {"marker": marker}, users=[marker])
            outbox.enqueue(session, PROBE_HANDLER, {"marker": marker})
        try:
            published = [(e.type, e.user_ids) for e in captured_events if e.payload.get("marker") == marker]
            assert published == [("architecture.probe.published", (marker,))]
            async with db.unit_of_work(readonly=True) as session:
                assert await _probe_rows(session, marker) == 1
        finally:
            async with db.unit_of_work() as session:  # no worker of another test may claim it
                await session.execute(delete(OutboxRow).where(OutboxRow.handler == PROBE_HANDLER))


# --- the route matrix (#14 point 6) --------------------------------------------------------


class TestRouteMatrix:
    """authz/routes.toml against the app as served. tests/authz/test_route_matrix.py checks the
    domain routers entry by entry (both directions, every value a permission some role holds,
    every non-public route 401 without a token); this checks the assembled app, so a route
    added outside a domain's router (docs, health, a mount) cannot escape the matrix."""

    # The API docs (http/docs.py) guard themselves: the OpenAPI document needs a signed-in user
    # outside demo mode; the page redirects to its static files (and, before `make web`,
    # answers "not built" under /api/docs/...). No domain router holds them.
    OUTSIDE_MATRIX = {
        "GET /api/docs": "redirect to the static page",
        "GET /api/docs/{path:path}": "only while the page is not built",
        "GET /api/openapi.json": "signed_in_actor outside demo mode",
    }
    ALWAYS_SERVED = {"GET /api/docs", "GET /api/openapi.json"}

    def test_every_route_of_the_app_is_in_the_matrix_and_every_entry_is_served(self) -> None:
        app = create_app(SETTINGS, manage_db=False)
        served = {
            f"{method} {path}"
            for method, path in _walk(app.router)
            if path.startswith("/api/") or path == "/ws"
        }
        outside = served - set(matrix())
        assert outside <= set(self.OUTSIDE_MATRIX), (
            f"add these routes to authz/routes.toml: {sorted(outside)}"
        )
        assert self.ALWAYS_SERVED <= served
        assert sorted(set(matrix()) - served) == [], "routes.toml names routes the app does not serve"
