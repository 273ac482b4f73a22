"""Accounts through the API: activation with a one-time code, account creation (one person, one
account), bad input (malformed, oversized) and the audited reveal of a phone number."""

from __future__ import annotations

import dataclasses

import orjson
from sqlalchemy import func, select

from tests.accounts import PASSWORD, activate, create_account, issue_code, new_account
from zhengding.accounts.models import User
from zhengding.audit.models import AuditEntry
from zhengding.config import get_settings, set_settings
from zhengding.orgs.models import Membership

_ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
_ID_CHECK = "10X98765432"


def id_number(phone: str) -> str:
    """A valid 18-digit ID number (GB 11643 check digit), distinct per phone."""
    body = f"460105{1960 + int(phone[-2:]) % 40}0101{phone[-3:]}"
    return body + _ID_CHECK[sum(int(d) * w for d, w in zip(body, _ID_WEIGHTS, strict=True)) % 11]


def with_wrong_check_digit(number: str) -> str:
    digits = "0123456789X"
    return number[:-1] + digits[(digits.index(number[-1]) + 1) % len(digits)]


async def _counts(db) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    async with db.unit_of_work(readonly=True) as session:
        users = (await session.execute(select(func.count()).select_from(User))).scalar_one()
        memberships = (await session.execute(select(func.count()).select_from(Membership))).scalar_one()
    return users, memberships


async def _status(db, user_id: str) -> str:  # type: ignore[no-untyped-def]
    async with db.unit_of_work(readonly=True) as session:
        return (await session.execute(select(User.status).where(User.id == user_id))).scalar_one()


class TestActivation:
    async def test_code_works_once(self, client, db, personas, unique_phone):
        phone = unique_phone()
        created = await create_account(client, personas, phone, name="符激活")
        code = await issue_code(db, created["id"])
        r = await activate(client, "符激活", phone, code)
        assert r.status_code == 200 and r.json() == {"ok": True}
        assert await _status(db, created["id"]) == "active"
        assert (
            await client.post("/api/auth/login", json={"login": phone, "password": PASSWORD})
        ).status_code == 200
        again = await activate(client, "符激活", phone, code, password="Another-Pass-4321")
        assert again.status_code == 422 and again.json()["error"]["code"] == "validation_failed"
        # the second use changed nothing: the first password still works
        assert (
            await client.post("/api/auth/login", json={"login": phone, "password": PASSWORD})
        ).status_code == 200

    async def test_wrong_name_phone_or_code_get_the_same_answer(self, client, db, personas, unique_phone):
        phone = unique_phone()
        created = await create_account(client, personas, phone, name="符激活")
        code = await issue_code(db, created["id"])
        wrong_code = ("A" if code[0] != "A" else "B") + code[1:]
        answers = [
            await activate(client, "符不对", phone, code),
            await activate(client, "符激活", unique_phone(), code),
            await activate(client, "符激活", phone, wrong_code),
        ]
        assert {a.status_code for a in answers} == {422}
        assert answers[0].json() == answers[1].json() == answers[2].json()
        assert await _status(db, created["id"]) == "pending"
        assert (
            await activate(client, "符激活", phone, code.lower())
        ).status_code == 200  # codes are case-blind

    async def test_expired_code_is_refused(self, client, db, personas, unique_phone, clock):
        phone = unique_phone()
        created = await create_account(client, personas, phone, name="符过期")
        code = await issue_code(db, created["id"])
        clock.advance(days=31)
        r = await activate(client, "符过期", phone, code)
        assert r.status_code == 422
        assert await _status(db, created["id"]) == "pending"

    async def test_five_wrong_tries_lock_activation_for_that_phone(
        self, client, db, personas, unique_phone, clock
    ):
        phone = unique_phone()
        created = await create_account(client, personas, phone, name="符锁定")
        code = await issue_code(db, created["id"])
        for _ in range(5):
            assert (await activate(client, "符锁定", phone, "WRONGCODE")).status_code == 422
        r = await activate(client, "符锁定", phone, code)
        assert r.status_code == 423 and r.json()["error"]["code"] == "locked"
        assert await _status(db, created["id"]) == "pending"
        clock.advance(minutes=15, seconds=1)
        assert (await activate(client, "符锁定", phone, code)).status_code == 200

    async def test_a_new_export_invalidates_the_old_code(self, client, db, personas, unique_phone):
        phone = unique_phone()
        created = await create_account(client, personas, phone, name="符重发")
        old = await issue_code(db, created["id"])
        new = await issue_code(db, created["id"])
        assert (await activate(client, "符重发", phone, old)).status_code == 422
        assert (await activate(client, "符重发", phone, new)).status_code == 200

    async def test_weak_password_is_refused_and_the_code_stays_usable(
        self, client, db, personas, unique_phone
    ):
        phone = unique_phone()
        created = await create_account(client, personas, phone, name="符弱密")
        code = await issue_code(db, created["id"])
        r = await activate(client, "符弱密", phone, code, password="short")
        assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "password"
        r = await activate(client, "符弱密", phone, code, password=f"Pw{phone}")
        assert r.status_code == 422 and "手机号" in r.json()["error"]["details"][0]["reason"]
        assert await _status(db, created["id"]) == "pending"
        assert (await activate(client, "符弱密", phone, code)).status_code == 200


class TestCreateAccount:
    async def _refused(self, client, db, personas, body: dict, status: int):  # type: ignore[no-untyped-def]
        before = await _counts(db)
        r = await client.post("/api/accounts", json=body, headers=personas.sysadmin.headers)
        assert r.status_code == status, r.text
        assert await _counts(db) == before
        return r.json()["error"]

    async def test_bad_phone_is_refused_with_the_field(self, client, db, personas):
        error = await self._refused(
            client, db, personas, {"name": "王五", "phone": "12345", "unit_id": personas.town.unit_id}, 422
        )
        assert error["code"] == "validation_failed"
        assert [d["field"] for d in error["details"]] == ["phone"]

    async def test_bad_id_number_checksum_is_refused(self, client, db, personas, unique_phone):
        bad = with_wrong_check_digit(id_number(unique_phone()))
        error = await self._refused(
            client,
            db,
            personas,
            {"name": "王五", "phone": unique_phone(), "unit_id": personas.town.unit_id, "id_number": bad},
            422,
        )
        assert [d["field"] for d in error["details"]] == ["id_number"]

    async def test_duplicate_phone_is_one_person_one_account(self, client, db, personas, unique_phone):
        phone = unique_phone()
        await create_account(client, personas, phone)
        error = await self._refused(
            client, db, personas, {"name": "另一人", "phone": phone, "unit_id": personas.grid1.unit_id}, 409
        )
        assert error["code"] == "conflict" and "一人一号" in error["message"]
        assert error["details"][0]["field"] == "phone"
        # the same number written another way is the same number
        await self._refused(
            client,
            db,
            personas,
            {"name": "另一人", "phone": f"+86 {phone[:3]}-{phone[3:]}", "unit_id": personas.grid1.unit_id},
            409,
        )

    async def test_duplicate_id_number_is_refused(self, client, db, personas, unique_phone):
        number = id_number(unique_phone())
        await create_account(client, personas, unique_phone(), id_number=number)
        error = await self._refused(
            client,
            db,
            personas,
            {
                "name": "另一人",
                "phone": unique_phone(),
                "unit_id": personas.town.unit_id,
                "id_number": number.lower(),
            },
            409,
        )
        assert "一人一号" in error["message"] and error["details"][0]["field"] == "id_number"

    async def test_created_account_is_pending_and_masked(self, client, db, personas, unique_phone):
        phone = unique_phone()
        number = id_number(phone)
        account = await create_account(client, personas, phone, name="黎新", id_number=number)
        assert account["status"] == "pending"
        assert account["phone_masked"] == f"{phone[:3]}****{phone[-4:]}"
        assert account["id_number_masked"].startswith(number[:6]) and number not in str(account)

    async def test_unit_outside_scope_or_missing_is_404(self, client, db, personas, unique_phone):
        await self._refused(
            client, db, personas, {"name": "王五", "phone": unique_phone(), "unit_id": "0" * 26}, 404
        )


class TestBadInput:
    async def test_oversized_body_is_refused_with_413(self, client, db, personas, unique_phone):
        before = await _counts(db)
        body = {
            "name": "王五",
            "phone": unique_phone(),
            "unit_id": personas.town.unit_id,
            "position": "x" * (1_048_576 + 10),
        }
        r = await client.post("/api/accounts", json=body, headers=personas.sysadmin.headers)
        assert r.status_code == 413
        assert r.headers["content-type"].startswith("application/json")
        assert r.json()["error"]["code"] == "payload_too_large" and "过大" in r.json()["error"]["message"]
        assert await _counts(db) == before

    async def test_oversized_body_without_content_length_is_refused_with_413(
        self, client, db, personas, unique_phone
    ):
        before = await _counts(db)
        payload = orjson.dumps(
            {
                "name": "王五",
                "phone": unique_phone(),
                "unit_id": personas.town.unit_id,
                "position": "x" * (1_048_576 + 10),
            }
        )

        async def chunks():  # type: ignore[no-untyped-def]
            for start in range(0, len(payload), 65536):
                yield payload[start : start + 65536]

        r = await client.post(
            "/api/accounts",
            content=chunks(),
            headers={**personas.sysadmin.headers, "content-type": "application/json"},
        )
        assert r.status_code == 413, r.text
        assert r.json()["error"]["code"] == "payload_too_large"
        assert await _counts(db) == before

    async def test_malformed_json_is_422_with_details(self, client, personas):
        r = await client.post(
            "/api/accounts",
            content=b'{"name": "x", "phone": ',
            headers={**personas.sysadmin.headers, "content-type": "application/json"},
        )
        assert r.status_code == 422
        error = r.json()["error"]
        assert error["code"] == "validation_failed" and error["details"]
        assert "JSON" in error["message"]

    async def test_missing_and_unknown_fields_are_named(self, client, personas):
        r = await client.post(
            "/api/accounts", json={"name": "x", "nickname": "y"}, headers=personas.sysadmin.headers
        )
        assert r.status_code == 422
        fields = {d["field"] for d in r.json()["error"]["details"]}
        assert {"phone", "unit_id", "nickname"} <= fields


class TestReveal:
    async def _reveal(self, client, headers, target_id: str, reason: str = "核实返乡人员联系方式"):  # type: ignore[no-untyped-def]
        return await client.post(
            "/api/privacy/reveal",
            headers=headers,
            json={"target_type": "user", "target_id": target_id, "field": "phone", "reason": reason},
        )

    async def test_reveal_returns_the_phone_and_is_audited_without_it(
        self, client, db, personas, unique_phone
    ):
        worker = await new_account(
            client, db, personas, unique_phone(), role="grid_worker", unit_id=personas.grid1.unit_id
        )
        r = await self._reveal(client, worker.headers, personas.grid1.user_id)
        assert r.status_code == 200, r.text
        assert r.json() == {"value": personas.grid1.phone}
        async with db.unit_of_work(readonly=True) as session:
            rows = (
                (
                    await session.execute(
                        select(AuditEntry).where(
                            AuditEntry.actor_id == worker.id,
                            AuditEntry.action == "privacy.personal_data.revealed",
                        )
                    )
                )
                .scalars()
                .all()
            )
            assert len(rows) == 1
            row = rows[0]
            assert row.target_id == personas.grid1.user_id and row.target_type == "user"
            detail = orjson.loads(row.detail)
            assert detail["field"] == "phone" and detail["reason"] == "核实返乡人员联系方式"
            text = " ".join(str(getattr(row, c.key)) for c in AuditEntry.__table__.columns)
            assert personas.grid1.phone not in text

    async def test_reveal_needs_a_reason(self, client, db, personas, unique_phone):
        worker = await new_account(
            client, db, personas, unique_phone(), role="grid_worker", unit_id=personas.grid1.unit_id
        )
        for reason in ("", "   "):
            r = await self._reveal(client, worker.headers, personas.grid1.user_id, reason=reason)
            assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "reason"

    async def test_reveal_needs_the_permission(self, client, personas):
        for who in (personas.outsider, personas.sysadmin):
            r = await self._reveal(client, who.headers, personas.grid1.user_id)
            assert r.status_code == 403, r.text

    async def test_grid_worker_cannot_reveal_the_sibling_village(self, client, personas):
        r = await self._reveal(client, personas.grid1.headers, personas.grid2.user_id)
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
        r = await self._reveal(client, personas.grid1.headers, "0" * 26)
        assert r.status_code == 404

    async def test_reveal_is_rate_limited(self, client, db, personas, unique_phone, clock):
        worker = await new_account(
            client, db, personas, unique_phone(), role="grid_worker", unit_id=personas.grid1.unit_id
        )
        settings = get_settings()
        set_settings(dataclasses.replace(settings, reveal_per_hour=3))
        try:
            for _ in range(3):
                assert (await self._reveal(client, worker.headers, personas.grid1.user_id)).status_code == 200
            r = await self._reveal(client, worker.headers, personas.grid1.user_id)
            assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited"
            assert "value" not in r.json()
            clock.advance(minutes=25)  # the hour has not passed
            assert (await self._reveal(client, worker.headers, personas.grid1.user_id)).status_code == 429
            assert (
                await client.get("/api/auth/me", headers=worker.headers)
            ).status_code == 200  # stay signed in
            clock.advance(minutes=25)
            assert (await client.get("/api/auth/me", headers=worker.headers)).status_code == 200
            clock.advance(minutes=11)
            assert (await self._reveal(client, worker.headers, personas.grid1.user_id)).status_code == 200
        finally:
            set_settings(settings)
