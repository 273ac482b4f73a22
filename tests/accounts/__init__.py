"""Helpers for account tests: fresh accounts made the way an administrator makes them
(system admin creates, security admin assigns a role, the person activates with a code)."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx

from tests.conftest import Personas, totp_now

PASSWORD = "Yelin-Coconut-77"


@dataclass
class Account:
    id: str
    name: str
    phone: str
    unit_id: str
    password: str = PASSWORD
    totp_secret: str | None = None
    token: str = ""
    headers: dict[str, str] = field(default_factory=dict)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def create_account(
    client: httpx.AsyncClient,
    personas: Personas,
    phone: str,
    *,
    name: str = "测试员",
    unit_id: str | None = None,
    **extra: str,
) -> dict:
    body = {
        "name": name,
        "phone": phone,
        "unit_id": unit_id or personas.town.unit_id,
        "position": "干部",
        **extra,
    }
    r = await client.post("/api/accounts", json=body, headers=personas.sysadmin.headers)
    assert r.status_code == 201, r.text
    return r.json()


async def issue_code(db, user_id: str) -> str:  # type: ignore[no-untyped-def]
    """What the CLI / export does: a fresh one-time code (earlier ones stop working)."""
    from zhengding.accounts.service.users import issue_codes

    async with db.unit_of_work() as session:
        codes = await issue_codes(session, None, [user_id])
    return codes[user_id]


async def activate(
    client: httpx.AsyncClient, name: str, phone: str, code: str, password: str = PASSWORD
) -> httpx.Response:
    return await client.post(
        "/api/accounts/activate", json={"name": name, "phone": phone, "code": code, "password": password}
    )


async def new_account(
    client: httpx.AsyncClient,
    db,
    personas: Personas,
    phone: str,
    *,  # type: ignore[no-untyped-def]
    role: str | None = None,
    unit_id: str | None = None,
    name: str = "测试员",
    login: bool = True,
) -> Account:
    """An active account (optionally with a role); logged in unless it is an administrator."""
    unit_id = unit_id or personas.town.unit_id
    created = await create_account(client, personas, phone, name=name, unit_id=unit_id)
    if role:
        r = await client.post(
            f"/api/accounts/{created['id']}/roles",
            json={"role": role, "unit_id": unit_id},
            headers=personas.secadmin.headers,
        )
        assert r.status_code == 200, r.text
    code = await issue_code(db, created["id"])
    r = await activate(client, name, phone, code)
    assert r.status_code == 200, r.text
    account = Account(id=created["id"], name=name, phone=phone, unit_id=unit_id)
    if login:
        r = await client.post("/api/auth/login", json={"login": phone, "password": PASSWORD})
        assert r.status_code == 200, r.text
        account.token = r.json()["token"]
        account.headers = bearer(account.token)
    return account


async def new_admin(
    client: httpx.AsyncClient,
    db,
    personas: Personas,
    phone: str,  # type: ignore[no-untyped-def]
    role: str = "audit_admin",
) -> Account:
    """A fresh administrator who has bound TOTP (setup → confirm); fully signed in."""
    account = await new_account(
        client, db, personas, phone, role=role, unit_id=personas.province.unit_id, name="新管理", login=False
    )
    r = await client.post("/api/auth/login", json={"login": phone, "password": PASSWORD})
    assert r.status_code == 200 and r.json()["mfa"] == "setup_required", r.text
    account.token = r.json()["token"]
    account.headers = bearer(account.token)
    r = await client.post("/api/auth/totp/setup", headers=account.headers)
    assert r.status_code == 200, r.text
    account.totp_secret = r.json()["secret"]
    r = await client.post(
        "/api/auth/totp/confirm", json={"code": totp_now(account.totp_secret)}, headers=account.headers
    )
    assert r.status_code == 200, r.text
    return account
