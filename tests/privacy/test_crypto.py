"""Personal data at rest: SM4-GCM ciphertext bound to its column, key rotation, HMAC-SM3 blind
indexes; nothing readable in the database itself."""

from __future__ import annotations

import base64
import uuid
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select, text, type_coerce
from sqlalchemy.orm.attributes import flag_modified

from tests.conftest import SETTINGS, Personas, is_postgres
from zhengding.accounts.models import User
from zhengding.accounts.service import users as user_service
from zhengding.config import set_settings
from zhengding.orgs.models import Membership
from zhengding.privacy import crypto
from zhengding.privacy.idcard import check_digit
from zhengding.privacy.types import Encrypted

DEMO_KEY = "demo:emhlbmdkaW5nLWRlbW8taw=="


def _id_number() -> str:
    first17 = f"460106{1960 + uuid.uuid4().int % 50}0615{uuid.uuid4().int % 1000:03d}"
    return first17 + check_digit(first17)


async def _create(
    client, personas: Personas, phone: str, id_number: str | None = None, name: str = "蒋加密"
) -> str:
    body = {"name": name, "phone": phone, "unit_id": personas.grid1.unit_id, "position": "网格员"}
    if id_number:
        body["id_number"] = id_number
    r = await client.post("/api/accounts", json=body, headers=personas.sysadmin.headers)
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def _raw(db, user_id: str) -> dict:
    async with db.write_engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT phone, id_number, phone_bidx, id_number_bidx, phone_last4 "
                    "FROM users WHERE id = :id"
                ),
                {"id": user_id},
            )
        ).one()
        await conn.rollback()
    return dict(row._mapping)


async def _orm(db, user_id: str) -> User:
    async with db.new_session(readonly=True) as s:
        user = await s.get(User, user_id)
        assert user is not None
        return user


class TestAtRest:
    async def test_phone_and_id_number_are_stored_as_ciphertext(
        self, client, db, personas: Personas, unique_phone
    ):
        phone, id_number = unique_phone(), _id_number()
        user_id = await _create(client, personas, phone, id_number)
        raw = await _raw(db, user_id)
        for stored, plain in ((raw["phone"], phone), (raw["id_number"], id_number)):
            prefix, key_id, token = stored.split(":", 2)
            assert (prefix, key_id) == ("v1", "k2")
            assert plain not in stored and plain[3:7] not in stored and plain[-6:] not in stored
            assert len(base64.b64decode(token)) == 12 + len(plain) + 16  # nonce | ciphertext | tag
        assert raw["phone_bidx"] != phone and raw["phone_last4"] == phone[-4:]

        user = await _orm(db, user_id)
        assert (user.phone, user.id_number) == (phone, id_number)

    async def test_same_value_encrypts_differently_each_time(self):
        a, b = crypto.encrypt("13812348000", "users.phone"), crypto.encrypt("13812348000", "users.phone")
        assert a != b
        assert crypto.decrypt(a, "users.phone") == crypto.decrypt(b, "users.phone") == "13812348000"

    async def test_ciphertext_copied_into_another_column_does_not_decrypt(
        self, client, db, personas: Personas, unique_phone
    ):
        user_id = await _create(client, personas, unique_phone(), _id_number())
        phone_as_id_number = type_coerce(User.__table__.c.phone, Encrypted("users.id_number"))
        async with db.new_session(readonly=True) as s:
            with pytest.raises(ValueError, match="failed authentication"):
                await s.execute(select(phone_as_id_number).where(User.id == user_id))
        stored = (await _raw(db, user_id))["phone"]
        for context in ("users.id_number", "returnees.phone", "users.phone "):
            with pytest.raises(ValueError):
                crypto.decrypt(stored, context)

    async def test_tampered_ciphertext_does_not_decrypt(self):
        stored = crypto.encrypt("13812348000", "users.phone")
        prefix, key_id, token = stored.split(":", 2)
        raw = bytearray(base64.b64decode(token))
        raw[14] ^= 1
        with pytest.raises(ValueError):
            crypto.decrypt(f"{prefix}:{key_id}:{base64.b64encode(bytes(raw)).decode()}", "users.phone")


class TestKeyRotation:
    async def test_old_key_still_decrypts_and_new_writes_use_the_current_key(
        self, client, db, personas: Personas, unique_phone, keys
    ):
        phone, id_number = unique_phone(), _id_number()
        keys(DEMO_KEY)  # before rotation: only the demo key
        async with db.unit_of_work() as s:
            row = user_service.user_row(
                user_service.validate_new_user("沈轮换", phone, personas.grid1.unit_id, "网格员", id_number)
            )
            s.add(User(**row))
            await s.flush()
            s.add(Membership(user_id=row["id"], unit_id=personas.grid1.unit_id, position="网格员"))
        user_id = row["id"]
        assert (await _raw(db, user_id))["phone"].startswith("v1:demo:")

        keys(SETTINGS.data_keys)  # rotated: k2 is current, demo is still configured
        user = await _orm(db, user_id)
        assert (user.phone, user.id_number) == (phone, id_number)
        found = await client.get(f"/api/people/{user_id}", headers=personas.grid1.headers)
        assert found.json()["phone_masked"] == phone[:3] + "****" + phone[-4:]

        async with db.unit_of_work() as s:  # re-encrypting (e.g. a rewrap job) writes with k2
            row = await s.get(User, user_id)
            row.phone = phone
            flag_modified(row, "phone")  # same value: the ORM would skip the write otherwise
        raw = await _raw(db, user_id)
        assert raw["phone"].startswith("v1:k2:") and raw["id_number"].startswith("v1:demo:")
        assert (await _orm(db, user_id)).phone == phone

    async def test_a_retired_key_is_reported_by_its_id(self, keys):
        keys(DEMO_KEY)
        stored = crypto.encrypt("13812348000", "users.phone")
        keys(SETTINGS.data_keys.split(",")[0])  # k2 only: demo retired
        with pytest.raises(crypto.KeyError_, match="demo"):
            crypto.decrypt(stored, "users.phone")

    @pytest.mark.parametrize(
        "bad",
        [
            "",
            "k2:not-base64!",
            "k2:" + base64.b64encode(b"short").decode(),
            ":" + base64.b64encode(b"0123456789abcdef").decode(),
        ],
    )
    def test_malformed_keys_are_refused(self, bad):
        with pytest.raises(crypto.KeyError_):
            crypto.Keyring.parse(bad, SETTINGS.index_key)

    def test_short_index_key_is_refused(self):
        with pytest.raises(crypto.KeyError_):
            crypto.Keyring.parse(SETTINGS.data_keys, base64.b64encode(b"short").decode())


class TestBlindIndex:
    async def test_finds_a_user_by_phone_and_by_id_number(self, client, db, personas: Personas, unique_phone):
        phone, id_number = unique_phone(), _id_number()
        user_id = await _create(client, personas, phone, id_number)
        async with db.new_session(readonly=True) as s:
            by_phone = (
                (
                    await s.execute(
                        select(User.id).where(User.phone_bidx == crypto.blind_index("phone", phone))
                    )
                )
                .scalars()
                .all()
            )
            by_id = (
                (
                    await s.execute(
                        select(User.id).where(
                            User.id_number_bidx == crypto.blind_index("id_number", id_number)
                        )
                    )
                )
                .scalars()
                .all()
            )
        assert by_phone == [user_id] and by_id == [user_id]

    async def test_one_person_one_account_is_enforced_through_the_index(
        self, client, personas: Personas, unique_phone
    ):
        phone, id_number = unique_phone(), _id_number()
        await _create(client, personas, phone, id_number)
        for body in ({"phone": phone}, {"phone": unique_phone(), "id_number": id_number}):
            r = await client.post(
                "/api/accounts",
                json={"name": "重复人", "unit_id": personas.grid1.unit_id, **body},
                headers=personas.sysadmin.headers,
            )
            assert r.status_code == 409, r.text
        # the same phone written differently is the same person
        r = await client.post(
            "/api/accounts",
            json={
                "name": "重复人",
                "unit_id": personas.grid1.unit_id,
                "phone": f"+86 {phone[:3]}-{phone[3:7]}-{phone[7:]}",
            },
            headers=personas.sysadmin.headers,
        )
        assert r.status_code == 409, r.text

    def test_equal_values_equal_indexes_and_kinds_are_separate(self):
        a = crypto.blind_index("phone", "13812348000")
        assert a == crypto.blind_index("phone", "13812348000")
        assert a != crypto.blind_index("phone", "13812348001")
        assert a != crypto.blind_index("id_number", "13812348000")
        assert len(a) == 64 and "13812348000" not in a

    def test_index_depends_on_the_index_key(self, keys):
        a = crypto.blind_index("phone", "13812348000")
        set_settings(
            replace(SETTINGS, index_key=base64.b64encode(b"another-index-key-32-bytes-long!").decode())
        )
        crypto.reset_keyring()
        assert crypto.blind_index("phone", "13812348000") != a


class TestNothingInClear:
    async def test_database_holds_no_phone_or_id_number_in_clear(
        self, client, db, personas: Personas, unique_phone
    ):
        people = [(unique_phone(), _id_number()) for _ in range(3)]
        for i, (phone, id_number) in enumerate(people):
            user_id = await _create(client, personas, phone, id_number, name=f"明文{i}")
            await client.post("/api/auth/login", json={"login": phone, "password": "Wrong-Password-1"})
            r = await client.post(
                "/api/privacy/reveal",
                json={
                    "target_type": "user",
                    "target_id": user_id,
                    "field": "id_number",
                    "reason": f"核对 {id_number}",
                },
                headers=personas.town.headers,
            )
            assert r.status_code == 200, r.text
        needles = [value for pair in people for value in pair]

        if is_postgres():
            found = await _postgres_hits(db, needles)
        else:
            found = _sqlite_hits(needles)
        assert found == []


def _sqlite_hits(needles: list[str]) -> list[str]:
    path = Path(SETTINGS.database_url.split("///", 1)[1])
    blobs = b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
    assert len(blobs) > 100_000  # the database really is there
    hits = []
    for needle in needles:
        for encoded in (needle.encode(), needle.encode("utf-16-le")):
            if encoded in blobs:
                hits.append(needle)
    return hits


async def _postgres_hits(db, needles: list[str]) -> list[str]:
    hits = []
    async with db.write_engine.connect() as conn:
        tables = (
            (
                await conn.execute(
                    text(
                        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
                        "AND table_type = 'BASE TABLE'"
                    )
                )
            )
            .scalars()
            .all()
        )
        assert "users" in tables and "audit_log" in tables
        for table in tables:
            for needle in needles:
                count = (
                    await conn.execute(
                        text(f'SELECT count(*) FROM "{table}" AS t WHERE t::text LIKE :p'),
                        {"p": f"%{needle}%"},
                    )
                ).scalar_one()
                if count:
                    hits.append(f"{table}: {needle}")
        await conn.rollback()
    return hits


class TestBulk:
    """encrypt_many / blind_index_many (imports) write exactly what encrypt / blind_index write."""

    def test_each_value_decrypts_with_its_own_nonce_and_none_stays_none(self):
        values = ["13812348000", None, "蒋加密", "", "13812348000"]
        stored = crypto.encrypt_many(values, "verification_tasks.phone")
        assert stored[1] is None
        assert [crypto.decrypt(s, "verification_tasks.phone") if s else s for s in stored] == values
        tokens = [base64.b64decode(s.split(":", 2)[2]) for s in stored if s is not None]
        assert len({t[:12] for t in tokens}) == len(tokens)  # a fresh nonce per value
        assert stored[0] != stored[4]
        for s, plain in ((stored[0], values[0]), (stored[2], values[2])):
            prefix, key_id, token = s.split(":", 2)
            assert (prefix, key_id) == ("v1", "k2")
            assert len(base64.b64decode(token)) == 12 + len(plain.encode()) + 16

    def test_bound_to_the_column(self):
        stored = crypto.encrypt_many(["460106199006150011"], "verification_tasks.id_number")[0]
        assert stored is not None
        with pytest.raises(ValueError, match="failed authentication"):
            crypto.decrypt(stored, "verification_tasks.name")

    def test_written_with_the_current_key_and_readable_after_rotation(self, keys):
        keys(DEMO_KEY)
        stored = crypto.encrypt_many(["13812348000"], "users.phone")[0]
        assert stored is not None and stored.startswith("v1:demo:")
        keys(SETTINGS.data_keys)  # k2 current, demo still configured
        assert crypto.decrypt(stored, "users.phone") == "13812348000"
        assert (crypto.encrypt_many(["x"], "users.phone")[0] or "").startswith("v1:k2:")

    def test_blind_indexes_equal_the_single_ones(self):
        values = ["13812348000", None, "13812348001"]
        assert crypto.blind_index_many("phone", values) == [
            crypto.blind_index("phone", "13812348000"),
            None,
            crypto.blind_index("phone", "13812348001"),
        ]
        assert crypto.blind_index_many("id_number", ["13812348000"]) != crypto.blind_index_many(
            "phone", ["13812348000"]
        )
