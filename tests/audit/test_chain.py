"""The audit log: who did what (never a secret in clear), append-only in the application and in
the database, hash-chained with SM3 so that `zhengding audit verify` finds tampering by position."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DBAPIError

from tests.conftest import SETTINGS, Personas, _create_database, _drop_database, is_postgres
from zhengding.audit.models import AuditEntry
from zhengding.audit.service import verify_chain
from zhengding.core.db import Database
from zhengding.core.errors import Forbidden
from zhengding.core.migrate import upgrade_engine
from zhengding.demo import DEMO_PASSWORD
from zhengding.privacy.idcard import check_digit

ZHENGDING = Path(sys.executable).with_name("zhengding")


def _id_number() -> str:
    first17 = f"460105{1970 + uuid.uuid4().int % 40}0101{uuid.uuid4().int % 1000:03d}"
    return first17 + check_digit(first17)


async def _rows(db, **where) -> list[AuditEntry]:
    async with db.new_session(readonly=True) as s:
        stmt = select(AuditEntry).order_by(AuditEntry.seq)
        for key, value in where.items():
            stmt = stmt.where(getattr(AuditEntry, key) == value)
        return list((await s.execute(stmt)).scalars())


class TestRecording:
    async def test_a_mutation_is_recorded_with_who_where_and_request_id(self, client, db, personas: Personas):
        admin = personas.sysadmin
        rid = f"req-{uuid.uuid4().hex}"
        r = await client.post(
            "/api/orgs",
            json={"parent_id": personas.grid1.unit_id, "name": f"审计组{rid[-6:]}", "kind": "department"},
            headers={**admin.headers, "X-Request-Id": rid},
        )
        assert r.status_code == 201, r.text
        (row,) = [e for e in await _rows(db, request_id=rid) if e.action == "orgs.unit.created"]
        assert row.actor_id == admin.user_id and row.actor_name == "周系统"
        assert row.role == "system_admin"
        assert row.unit_id == admin.unit_id and row.unit_name == "海南省"
        assert row.ip == "127.0.0.1"
        assert (row.target_type, row.target_id, row.result) == ("org_unit", r.json()["id"], "ok")

        listed = await client.get(
            "/api/audit",
            params={"action": "orgs.unit.created", "actor_id": admin.user_id},
            headers=personas.auditadmin.headers,
        )
        assert listed.status_code == 200, listed.text
        item = next(i for i in listed.json()["items"] if i["request_id"] == rid)
        assert (
            item["target_id"] == r.json()["id"]
            and item["role"] == "system_admin"
            and item["ip"] == "127.0.0.1"
        )

    async def test_a_saved_download_is_logged_with_the_kind_the_page_names(
        self, client, db, personas: Personas
    ):
        rid = f"req-{uuid.uuid4().hex}"
        r = await client.post(
            "/api/downloads/log",
            json={"name": "核查任务.xlsx", "kind": "verification_tasks"},
            headers={**personas.province.headers, "X-Request-Id": rid},
        )
        assert r.status_code == 200, r.text
        (row,) = await _rows(db, request_id=rid)
        assert json.loads(row.detail) == {"name": "核查任务.xlsx", "kind": "verification_tasks"}
        bad = await client.post(
            "/api/downloads/log",
            json={"name": "x.xlsx", "kind": "<script>"},
            headers=personas.province.headers,
        )
        assert bad.status_code == 422

    async def test_a_refused_login_is_recorded_as_denied(self, client, db, personas: Personas, unique_phone):
        rid = f"req-{uuid.uuid4().hex}"
        r = await client.post(
            "/api/auth/login",
            json={"login": unique_phone(), "password": "Nope-Nope-123"},
            headers={"X-Request-Id": rid},
        )
        assert r.status_code == 401
        (row,) = await _rows(db, request_id=rid)
        assert (row.action, row.result, row.actor_id) == ("auth.login.failed", "denied", None)

    async def test_no_password_token_phone_or_id_number_in_clear(
        self, client, db, personas: Personas, unique_phone
    ):
        phone, id_number = unique_phone(), _id_number()
        wrong_password = f"Wrong-{uuid.uuid4().hex}"
        rid = f"req-{uuid.uuid4().hex}"
        headers = {"X-Request-Id": rid}
        r = await client.post(
            "/api/accounts",
            json={
                "name": "秦审计",
                "phone": phone,
                "unit_id": personas.grid1.unit_id,
                "id_number": id_number,
                "position": "网格员",
            },
            headers={**personas.sysadmin.headers, **headers},
        )
        assert r.status_code == 201, r.text
        account_id = r.json()["id"]
        # a pending account cannot log in: the attempt, by phone, is audited
        r = await client.post(
            "/api/auth/login", json={"login": phone, "password": wrong_password}, headers=headers
        )
        assert r.status_code == 401
        # a real login by phone and its logout
        r = await client.post(
            "/api/auth/login",
            json={"login": personas.grid1.phone, "password": DEMO_PASSWORD},
            headers=headers,
        )
        assert r.status_code == 200, r.text
        token = r.json()["token"]
        r = await client.post("/api/auth/logout", headers={"Authorization": f"Bearer {token}", **headers})
        assert r.status_code == 200
        # a reveal, with the number typed into the reason
        for field, value in (("phone", phone), ("id_number", id_number)):
            r = await client.post(
                "/api/privacy/reveal",
                json={
                    "target_type": "user",
                    "target_id": account_id,
                    "field": field,
                    "reason": f"核实身份 {value}",
                },
                headers={**personas.town.headers, **headers},
            )
            assert r.status_code == 200, r.text
            assert r.json()["value"] == value
        rows = await _rows(db, request_id=rid)
        actions = [row.action for row in rows]
        assert actions.count("privacy.personal_data.revealed") == 2
        assert {"accounts.user.created", "auth.login.failed", "auth.login.succeeded", "auth.logout"} <= set(
            actions
        )
        reveals = {
            json.loads(row.detail)["field"]: row
            for row in rows
            if row.action == "privacy.personal_data.revealed"
        }
        for row in reveals.values():
            assert (row.actor_id, row.target_id, row.role) == (
                personas.town.user_id,
                account_id,
                "town_command",
            )
        assert json.loads(reveals["phone"].detail)["reason"] == f"核实身份 {phone[:3]}****{phone[-4:]}"
        assert (
            json.loads(reveals["id_number"].detail)["reason"]
            == f"核实身份 {id_number[:6]}********{id_number[-4:]}"
        )

        async with db.write_engine.connect() as conn:
            dump = "\n".join(
                " ".join(str(v) for v in row)
                for row in (await conn.execute(text("SELECT * FROM audit_log"))).all()
            )
        secrets = [
            phone,
            id_number,
            id_number[:17],
            wrong_password,
            DEMO_PASSWORD,
            token,
            personas.grid1.phone,
        ]
        secrets += [p.token for p in personas.values()]
        for secret in secrets:
            assert secret not in dump


class TestAppendOnly:
    async def test_the_application_refuses_to_change_an_audit_row(self, db):
        async with db.unit_of_work() as s:
            row = (await s.execute(select(AuditEntry).order_by(AuditEntry.seq).limit(1))).scalar_one()
            row.result = "forged"
            with pytest.raises(Forbidden):
                await s.flush()
            await s.rollback()
        async with db.unit_of_work() as s:
            row = (await s.execute(select(AuditEntry).order_by(AuditEntry.seq).limit(1))).scalar_one()
            await s.delete(row)
            with pytest.raises(Forbidden):
                await s.flush()
            await s.rollback()
        for statement in (
            update(AuditEntry).where(AuditEntry.seq == 1).values(result="forged"),
            delete(AuditEntry).where(AuditEntry.seq == 1),
        ):
            with pytest.raises(Forbidden):
                async with db.unit_of_work() as s:
                    await s.execute(statement)
        (first,) = await _rows(db, seq=1)
        assert first.result != "forged"

    @pytest.mark.parametrize(
        "statement",
        [
            "UPDATE audit_log SET result = 'forged' WHERE seq = 1",
            "UPDATE audit_log SET seq = seq + 1000000 WHERE seq = 1",
            "DELETE FROM audit_log WHERE seq = 1",
            "DELETE FROM audit_log",
            *(["TRUNCATE audit_log"] if is_postgres() else []),
        ],
    )
    async def test_the_database_refuses_raw_updates_and_deletes(self, db, statement):
        async with db.write_engine.connect() as conn:
            with pytest.raises(DBAPIError, match="append-only"):
                await conn.execute(text(statement))
            await conn.rollback()
        (first,) = await _rows(db, seq=1)
        assert first.result != "forged"


class TestVerify:
    async def test_intact_log_verifies(self, client, db, personas: Personas):
        async with db.unit_of_work(readonly=True) as s:
            checked, problems, head = await verify_chain(s, batch=7)  # small batches: the walk crosses pages
        assert problems == [] and checked == head[0] and checked >= 10
        r = await client.post("/api/audit/verify", headers=personas.auditadmin.headers)
        assert r.status_code == 200, r.text
        assert r.json()["ok"] is True and r.json()["problems"] == []
        refused = await client.post("/api/audit/verify", headers=personas.sysadmin.headers)
        assert refused.status_code == 403


# --- tampering, as an attacker with database rights, in a scratch copy of the log ----------


@pytest.fixture
async def scratch(db, tmp_path, client, personas: Personas):
    """A fresh migrated database holding a copy of the audit log, with the triggers dropped."""
    for i in range(12):  # enough rows for every scenario
        await client.post(
            "/api/downloads/log", json={"name": f"表{i}.xlsx", "kind": "xlsx"}, headers=personas.grid1.headers
        )
    if is_postgres():
        url = SETTINGS.database_url.replace("_run", "_scratch", 1) + uuid.uuid4().hex[:6]
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'scratch.db'}"
    await _create_database(url)
    copy = Database(url)
    await upgrade_engine(copy.write_engine)
    async with db.write_engine.connect() as source:
        rows = [
            dict(r._mapping)
            for r in (await source.execute(select(AuditEntry.__table__).order_by(AuditEntry.seq))).all()
        ]
        await source.rollback()
    async with copy.write_engine.begin() as conn:
        await conn.execute(AuditEntry.__table__.insert(), rows)
        if is_postgres():
            await conn.execute(text("DROP TRIGGER audit_log_no_change ON audit_log"))
        else:
            await conn.execute(text("DROP TRIGGER audit_log_no_update"))
            await conn.execute(text("DROP TRIGGER audit_log_no_delete"))
    copy.count = len(rows)  # type: ignore[attr-defined]
    yield copy
    await copy.dispose()
    await _drop_database(url)


async def _tamper(copy: Database, *statements: str) -> None:
    async with copy.write_engine.begin() as conn:
        for statement in statements:
            await conn.execute(text(statement))


async def _verify(copy: Database) -> list[tuple[int, str]]:
    async with copy.unit_of_work(readonly=True) as s:
        _checked, problems, _head = await verify_chain(s, batch=4)
    return [(p.position, p.kind) for p in problems]


def _cli_verify(url: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZD_")}
    env.update(
        ZD_DEMO="1",
        ZD_DATABASE_URL=url,
        ZD_DATA_KEYS=SETTINGS.data_keys,
        ZD_INDEX_KEY=SETTINGS.index_key,
        ZD_SECRET_KEY=SETTINGS.secret_key,
        ZD_VAR_DIR=str(SETTINGS.var_dir),
    )
    return subprocess.run(
        [str(ZHENGDING), "audit", "verify"], env=env, capture_output=True, text=True, timeout=120
    )


class TestTampering:
    async def test_copied_log_is_intact(self, scratch):
        assert await _verify(scratch) == []

    async def test_edited_row_is_reported_at_its_position(self, scratch):
        await _tamper(scratch, "UPDATE audit_log SET result = 'ok', actor_name = '某人' WHERE seq = 3")
        assert await _verify(scratch) == [(3, "edited")]

    async def test_edited_row_with_recomputed_hash_breaks_the_next_link(self, scratch):
        async with scratch.unit_of_work(readonly=True) as s:
            row = (await s.execute(select(AuditEntry).where(AuditEntry.seq == 4))).scalar_one()
            from zhengding.audit.service import _HASHED_FIELDS, row_hash

            values = {k: getattr(row, k) for k in _HASHED_FIELDS}
        values["action"] = "harmless.thing"
        forged = row_hash(values)
        await _tamper(
            scratch, f"UPDATE audit_log SET action = 'harmless.thing', hash = '{forged}' WHERE seq = 4"
        )
        problems = await _verify(scratch)
        assert problems and problems[0][0] == 5 and all(pos == 5 for pos, _ in problems)

    async def test_deleted_row_is_reported_at_the_next_position(self, scratch):
        await _tamper(scratch, "DELETE FROM audit_log WHERE seq = 6")
        assert await _verify(scratch) == [(7, "deleted")]

    async def test_swapped_rows_are_reported_as_reordered(self, scratch):
        await _tamper(
            scratch,
            "UPDATE audit_log SET seq = -1 WHERE seq = 9",
            "UPDATE audit_log SET seq = 9 WHERE seq = 10",
            "UPDATE audit_log SET seq = 10 WHERE seq = -1",
        )
        problems = await _verify(scratch)
        assert {kind for _, kind in problems} == {"reordered"}
        assert {9, 10} <= {pos for pos, _ in problems} <= {9, 10, 11}

    async def test_cli_reports_each_problem_by_position_and_exits_1(self, scratch):
        intact = _cli_verify(scratch.url)
        assert intact.returncode == 0, intact.stdout + intact.stderr
        assert f"已校验 {scratch.count} 条" in intact.stdout and "审计日志链完整" in intact.stdout

        await _tamper(
            scratch,
            "UPDATE audit_log SET ip = '6.6.6.6' WHERE seq = 3",
            "DELETE FROM audit_log WHERE seq = 6",
            "UPDATE audit_log SET seq = -1 WHERE seq = 9",
            "UPDATE audit_log SET seq = 9 WHERE seq = 10",
            "UPDATE audit_log SET seq = 10 WHERE seq = -1",
        )
        broken = _cli_verify(scratch.url)
        assert broken.returncode == 1, broken.stdout + broken.stderr
        out = broken.stdout
        assert "第 3 条：edited" in out
        assert "第 7 条：deleted" in out
        assert "第 9 条：reordered" in out and "第 10 条：reordered" in out
        assert "发现" in broken.stderr
