"""Login, lockout, session timeouts, logout, password change, disabling, TOTP — through the API,
with the one clock moved instead of waiting."""

from __future__ import annotations

from datetime import timedelta

import pyotp
from sqlalchemy import select

from tests.accounts import PASSWORD, bearer, new_account, new_admin
from tests.conftest import totp_now
from zhengding.accounts.models import AuthSession

NEW_PASSWORD = "Wuzhishan-Tea-2026"


async def _login(client, login: str, password: str):  # type: ignore[no-untyped-def]
    return await client.post("/api/auth/login", json={"login": login, "password": password})


async def _me(client, headers):  # type: ignore[no-untyped-def]
    return await client.get("/api/auth/me", headers=headers)


def _code(response) -> str:  # type: ignore[no-untyped-def]
    return response.json()["error"]["code"]


class TestLogin:
    async def test_login_by_phone_or_username_returns_token_and_me(self, client, db, personas, unique_phone):
        account = await new_account(client, db, personas, unique_phone(), login=False)
        r = await _login(client, account.phone, PASSWORD)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["mfa"] == "none" and body["me"]["id"] == account.id
        assert body["me"]["idle_timeout_seconds"] == 30 * 60 and body["me"]["is_admin"] is False
        assert (await _me(client, bearer(body["token"]))).status_code == 200
        r = await _login(client, "town", "Hainan-Demo-2026")
        assert r.status_code == 200

    async def test_wrong_password_and_unknown_user_answer_identically(
        self, client, db, personas, unique_phone
    ):
        account = await new_account(client, db, personas, unique_phone(), login=False)
        wrong = await _login(client, account.phone, "Not-The-Password-1")
        unknown = await _login(client, unique_phone(), "Not-The-Password-1")
        unknown_name = await _login(client, "nobody_here", "Not-The-Password-1")
        assert wrong.status_code == unknown.status_code == unknown_name.status_code == 401
        assert wrong.json() == unknown.json() == unknown_name.json()
        assert wrong.json()["error"]["code"] == "unauthenticated"

    async def test_pending_account_cannot_log_in(self, client, personas, unique_phone):
        from tests.accounts import create_account

        phone = unique_phone()
        await create_account(client, personas, phone)
        r = await _login(client, phone, PASSWORD)
        assert r.status_code == 401 and _code(r) == "unauthenticated"


class TestLockout:
    async def test_five_failures_lock_even_the_right_password_then_unlock_after_15_minutes(
        self, client, db, personas, unique_phone, clock
    ):
        account = await new_account(client, db, personas, unique_phone(), login=False)
        for _ in range(5):
            r = await _login(client, account.phone, "Wrong-Password-99")
            assert r.status_code == 401
        r = await _login(client, account.phone, PASSWORD)
        assert r.status_code == 423, r.text
        assert _code(r) == "locked" and "锁定" in r.json()["error"]["message"]
        clock.advance(minutes=14)
        assert (await _login(client, account.phone, PASSWORD)).status_code == 423
        clock.advance(minutes=1, seconds=1)
        r = await _login(client, account.phone, PASSWORD)
        assert r.status_code == 200, r.text

    async def test_unknown_login_locks_like_a_known_one(self, client, unique_phone):
        phone = unique_phone()
        for _ in range(5):
            assert (await _login(client, phone, "Wrong-Password-99")).status_code == 401
        r = await _login(client, phone, "Wrong-Password-99")
        assert r.status_code == 423 and _code(r) == "locked"

    async def test_failures_older_than_the_window_do_not_count(
        self, client, db, personas, unique_phone, clock
    ):
        account = await new_account(client, db, personas, unique_phone(), login=False)
        for _ in range(4):
            assert (await _login(client, account.phone, "Wrong-Password-99")).status_code == 401
        clock.advance(minutes=16)
        for _ in range(4):
            assert (await _login(client, account.phone, "Wrong-Password-99")).status_code == 401
        assert (await _login(client, account.phone, PASSWORD)).status_code == 200

    async def test_five_failures_within_any_15_minutes_lock(self, client, db, personas, unique_phone, clock):
        """The window slides: 1 failure, then 4 more between 10 and 16 minutes later — the last
        five all lie within 15 minutes of each other."""
        account = await new_account(client, db, personas, unique_phone(), login=False)
        assert (await _login(client, account.phone, "Wrong-Password-99")).status_code == 401
        clock.advance(minutes=10)
        for _ in range(3):
            assert (await _login(client, account.phone, "Wrong-Password-99")).status_code == 401
        clock.advance(minutes=6)
        assert (await _login(client, account.phone, "Wrong-Password-99")).status_code == 401
        assert (await _login(client, account.phone, "Wrong-Password-99")).status_code == 401
        assert (await _login(client, account.phone, PASSWORD)).status_code == 423

    async def test_successful_login_resets_the_count(self, client, db, personas, unique_phone):
        account = await new_account(client, db, personas, unique_phone(), login=False)
        for _ in range(4):
            await _login(client, account.phone, "Wrong-Password-99")
        assert (await _login(client, account.phone, PASSWORD)).status_code == 200
        for _ in range(4):
            await _login(client, account.phone, "Wrong-Password-99")
        assert (await _login(client, account.phone, PASSWORD)).status_code == 200


class TestSessionTimeouts:
    async def test_staff_session_expires_after_30_idle_minutes(
        self, client, db, personas, unique_phone, clock
    ):
        account = await new_account(client, db, personas, unique_phone())
        clock.advance(minutes=30, seconds=1)
        r = await _me(client, account.headers)
        assert r.status_code == 401 and _code(r) == "session_expired"

    async def test_activity_keeps_a_staff_session_alive(self, client, db, personas, unique_phone, clock):
        account = await new_account(client, db, personas, unique_phone())
        for _ in range(4):
            clock.advance(minutes=29)
            assert (await _me(client, account.headers)).status_code == 200
        clock.advance(minutes=31)
        assert _code(await _me(client, account.headers)) == "session_expired"

    async def test_admin_session_expires_after_15_idle_minutes(
        self, client, db, personas, unique_phone, clock
    ):
        admin = await new_admin(client, db, personas, unique_phone())
        r = await _me(client, admin.headers)
        assert r.json()["idle_timeout_seconds"] == 15 * 60 and r.json()["is_admin"] is True
        clock.advance(minutes=14)
        assert (await _me(client, admin.headers)).status_code == 200
        clock.advance(minutes=15, seconds=1)
        r = await _me(client, admin.headers)
        assert r.status_code == 401 and _code(r) == "session_expired"

    async def test_session_ends_after_12_hours_despite_activity(
        self, client, db, personas, unique_phone, clock
    ):
        account = await new_account(client, db, personas, unique_phone())
        for _ in range(28):  # 28 × 25 min = 11 h 40 min
            clock.advance(minutes=25)
            assert (await _me(client, account.headers)).status_code == 200
        clock.advance(minutes=20, seconds=1)
        r = await _me(client, account.headers)
        assert r.status_code == 401 and _code(r) == "session_expired"


class TestLogout:
    async def test_logout_revokes_the_token(self, client, db, personas, unique_phone):
        account = await new_account(client, db, personas, unique_phone())
        other = bearer((await _login(client, account.phone, PASSWORD)).json()["token"])
        r = await client.post("/api/auth/logout", headers=account.headers)
        assert r.status_code == 200 and r.json() == {"ok": True}
        assert (await _me(client, account.headers)).status_code == 401
        assert (await _me(client, other)).status_code == 200  # only this session ends


class TestPasswordChange:
    async def test_change_revokes_every_session_and_returns_a_working_token(
        self, client, db, personas, unique_phone
    ):
        account = await new_account(client, db, personas, unique_phone())
        other = bearer((await _login(client, account.phone, PASSWORD)).json()["token"])
        r = await client.post(
            "/api/auth/password",
            json={"old_password": PASSWORD, "new_password": NEW_PASSWORD},
            headers=account.headers,
        )
        assert r.status_code == 200, r.text
        fresh = bearer(r.json()["token"])
        assert (await _me(client, fresh)).status_code == 200
        for headers in (account.headers, other):
            r = await _me(client, headers)
            assert r.status_code == 401 and _code(r) == "session_expired"
        assert (await _login(client, account.phone, PASSWORD)).status_code == 401
        assert (await _login(client, account.phone, NEW_PASSWORD)).status_code == 200

    async def test_wrong_old_password_is_refused(self, client, db, personas, unique_phone):
        account = await new_account(client, db, personas, unique_phone())
        r = await client.post(
            "/api/auth/password",
            json={"old_password": "Not-It-123456", "new_password": NEW_PASSWORD},
            headers=account.headers,
        )
        assert r.status_code == 422
        assert r.json()["error"]["details"][0]["field"] == "old_password"
        assert (await _me(client, account.headers)).status_code == 200
        assert (await _login(client, account.phone, PASSWORD)).status_code == 200

    async def test_policy_rejects_short_common_and_personal_passwords(
        self, client, db, personas, unique_phone
    ):
        account = await new_account(client, db, personas, unique_phone())
        for bad, fragment in (
            ("Short-1", "至少 10 位"),
            ("password123", "常见"),
            ("1234567890", "常见"),
            ("aaaaaaaaaaaa", "常见"),
            (f"Zd{account.phone}", "手机号"),
        ):
            r = await client.post(
                "/api/auth/password",
                json={"old_password": PASSWORD, "new_password": bad},
                headers=account.headers,
            )
            assert r.status_code == 422, (bad, r.text)
            error = r.json()["error"]
            assert error["code"] == "validation_failed"
            assert (
                error["details"][0]["field"] == "new_password" and fragment in error["details"][0]["reason"]
            )
        # nothing changed: the session and the old password still work
        assert (await _me(client, account.headers)).status_code == 200
        assert (await _login(client, account.phone, PASSWORD)).status_code == 200


class TestDisable:
    async def test_disabling_ends_sessions_at_once_and_refuses_login(
        self, client, db, personas, unique_phone
    ):
        account = await new_account(client, db, personas, unique_phone())
        assert (await _me(client, account.headers)).status_code == 200
        r = await client.post(f"/api/accounts/{account.id}/disable", headers=personas.sysadmin.headers)
        assert r.status_code == 200 and r.json()["status"] == "disabled"
        r = await _me(client, account.headers)
        assert r.status_code == 401 and _code(r) == "session_expired"
        r = await _login(client, account.phone, PASSWORD)
        assert r.status_code == 401 and "停用" in r.json()["error"]["message"]
        async with db.unit_of_work(readonly=True) as session:
            revoked = (
                (
                    await session.execute(
                        select(AuthSession.revoked_at).where(AuthSession.user_id == account.id)
                    )
                )
                .scalars()
                .all()
            )
        assert revoked and all(at is not None for at in revoked)
        r = await client.post(f"/api/accounts/{account.id}/enable", headers=personas.sysadmin.headers)
        assert r.status_code == 200 and r.json()["status"] == "active"
        assert (await _me(client, account.headers)).status_code == 401  # revoked stays revoked
        assert (await _login(client, account.phone, PASSWORD)).status_code == 200


class TestTotp:
    async def test_new_admin_must_bind_totp_before_anything_else(self, client, db, personas, unique_phone):
        account = await new_account(
            client,
            db,
            personas,
            unique_phone(),
            role="audit_admin",
            unit_id=personas.province.unit_id,
            login=False,
        )
        r = await _login(client, account.phone, PASSWORD)
        assert r.status_code == 200 and r.json()["mfa"] == "setup_required"
        headers = bearer(r.json()["token"])
        for method, url in (("GET", "/api/workbench"), ("GET", "/api/audit"), ("POST", "/api/auth/password")):
            r = await client.request(
                method, url, headers=headers, json={"old_password": PASSWORD, "new_password": NEW_PASSWORD}
            )
            assert r.status_code == 401 and _code(r) == "mfa_required", (url, r.text)
        assert (await _me(client, headers)).status_code == 200
        r = await client.post("/api/auth/totp/verify", json={"code": "123456"}, headers=headers)
        assert r.status_code == 401 and _code(r) == "mfa_required"  # nothing bound yet
        r = await client.post("/api/auth/totp/setup", headers=headers)
        assert r.status_code == 200, r.text
        setup = r.json()
        assert setup["qr_svg"].lstrip().startswith("<svg") and setup["otpauth_uri"].startswith(
            "otpauth://totp/"
        )
        assert pyotp.parse_uri(setup["otpauth_uri"]).secret == setup["secret"]
        r = await client.post("/api/auth/totp/confirm", json={"code": "000000"}, headers=headers)
        assert r.status_code == 422
        r = await client.post(
            "/api/auth/totp/confirm", json={"code": totp_now(setup["secret"])}, headers=headers
        )
        assert r.status_code == 200 and r.json()["mfa"] == "none" and r.json()["me"]["totp_enabled"] is True
        assert (await client.get("/api/audit", headers=headers)).status_code == 200

    async def test_admin_login_requires_the_code_and_a_code_works_once(
        self, client, db, personas, unique_phone, clock
    ):
        admin = await new_admin(client, db, personas, unique_phone())
        used = totp_now(admin.totp_secret)  # consumed by the confirmation
        r = await _login(client, admin.phone, PASSWORD)
        assert r.status_code == 200 and r.json()["mfa"] == "required"
        headers = bearer(r.json()["token"])
        r = await client.get("/api/audit", headers=headers)
        assert r.status_code == 401 and _code(r) == "mfa_required"
        r = await client.post("/api/auth/totp/verify", json={"code": used}, headers=headers)
        assert r.status_code == 422, r.text  # same 30 s step: refused
        clock.advance(seconds=30)
        code = totp_now(admin.totp_secret)
        r = await client.post("/api/auth/totp/verify", json={"code": code}, headers=headers)
        assert r.status_code == 200 and r.json()["mfa"] == "none"
        assert (await client.get("/api/audit", headers=headers)).status_code == 200
        # the same code on a second login, still within its step: refused
        r = await _login(client, admin.phone, PASSWORD)
        second = bearer(r.json()["token"])
        r = await client.post("/api/auth/totp/verify", json={"code": code}, headers=second)
        assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "code"
        assert _code(await client.get("/api/audit", headers=second)) == "mfa_required"

    async def test_wrong_codes_lock_the_second_factor(self, client, db, personas, unique_phone, clock):
        admin = await new_admin(client, db, personas, unique_phone())
        clock.advance(seconds=30)
        headers = bearer((await _login(client, admin.phone, PASSWORD)).json()["token"])
        good = totp_now(admin.totp_secret)
        wrong = f"{(int(good) + 500000) % 1_000_000:06d}"
        for _ in range(5):
            r = await client.post("/api/auth/totp/verify", json={"code": wrong}, headers=headers)
            assert r.status_code == 422
        r = await client.post("/api/auth/totp/verify", json={"code": good}, headers=headers)
        assert r.status_code == 423 and _code(r) == "locked"
        assert _code(await client.get("/api/audit", headers=headers)) == "mfa_required"
        clock.advance(minutes=15, seconds=30)
        headers = bearer((await _login(client, admin.phone, PASSWORD)).json()["token"])
        r = await client.post(
            "/api/auth/totp/verify", json={"code": totp_now(admin.totp_secret)}, headers=headers
        )
        assert r.status_code == 200, r.text

    async def test_an_existing_session_gets_no_admin_powers_without_totp(
        self, client, db, personas, unique_phone
    ):
        """A staff member signed in without TOTP who is then made an administrator must not keep
        using that session with administrator permissions."""
        account = await new_account(client, db, personas, unique_phone(), unit_id=personas.province.unit_id)
        r = await client.post(
            f"/api/accounts/{account.id}/roles",
            json={"role": "audit_admin", "unit_id": personas.province.unit_id},
            headers=personas.secadmin.headers,
        )
        assert r.status_code == 200, r.text
        r = await client.get("/api/audit", headers=account.headers)
        assert r.status_code == 401 and _code(r) == "session_expired", r.status_code
        r = await _login(client, account.phone, PASSWORD)
        assert r.json()["mfa"] == "setup_required"


async def test_last_seen_is_written_at_most_once_a_minute(client, db, personas, unique_phone, clock):
    account = await new_account(client, db, personas, unique_phone())

    async def last_seen():  # type: ignore[no-untyped-def]
        async with db.unit_of_work(readonly=True) as session:
            return (
                await session.execute(
                    select(AuthSession.last_seen_at).where(AuthSession.user_id == account.id)
                )
            ).scalar_one()

    start = await last_seen()
    clock.advance(seconds=30)
    await _me(client, account.headers)
    assert await last_seen() == start
    clock.advance(seconds=60)
    await _me(client, account.headers)
    assert await last_seen() - start >= timedelta(seconds=89)
