"""Input hygiene of the signed registration API (#13 point 11): arrival times outside
[2020-01-01 Asia/Shanghai, now + 1 h] are refused, control characters in any text field are
refused naming the field, and a body repeating a key is refused before anything is stored."""

from __future__ import annotations

import json
from datetime import timedelta

import orjson
import pytest

from tests.returnees.conftest import BATCH, SINGLE, Sender, registration
from tests.returnees.test_inbound import count_returnees
from zhengding.core.clock import now


def details(r) -> list[dict]:
    return r.json()["error"]["details"]


class TestArrivalTime:
    @pytest.mark.parametrize(
        "arrived_at",
        [
            "2019-12-31T23:59:59+08:00",
            "2019-12-31T15:59:59Z",
            "1970-01-01T00:00:00+00:00",
            "0001-01-01T00:00:00+08:00",
        ],
    )
    async def test_before_2020_in_shanghai_is_refused(self, sender: Sender, db, arrived_at):
        item = registration(arrived_at=arrived_at)
        r = await sender.one(item)
        assert r.status_code == 422, r.text
        assert details(r) == [{"field": "arrived_at", "reason": "抵达时间早于 2020-01-01，请核对"}]
        assert await count_returnees(db, item["registration_id"]) == 0

    @pytest.mark.parametrize("arrived_at", ["2020-01-01T00:00:00+08:00", "2019-12-31T16:00:00Z"])
    async def test_the_first_moment_of_2020_in_shanghai_is_accepted(self, sender: Sender, arrived_at):
        r = await sender.one(registration(arrived_at=arrived_at))
        assert r.status_code == 201, r.text

    async def test_more_than_an_hour_ahead_is_refused(self, sender: Sender):
        ahead = (now() + timedelta(hours=1, minutes=5)).isoformat()
        r = await sender.one(registration(arrived_at=ahead))
        assert r.status_code == 422
        assert details(r) == [{"field": "arrived_at", "reason": "抵达时间晚于当前时间"}]

    async def test_a_batch_rejects_only_the_item_before_2020(self, sender: Sender):
        r = await sender.post(
            BATCH, {"items": [registration(), registration(arrived_at="2019-06-01T08:00:00+08:00")]}
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert [i["status"] for i in body["items"]] == ["accepted", "rejected"]
        assert body["items"][1]["errors"] == [
            {"field": "arrived_at", "reason": "抵达时间早于 2020-01-01，请核对"}
        ]


class TestControlCharacters:
    @pytest.mark.parametrize(
        ("field", "text"),
        [
            ("name", "张\x00海"),
            ("destination", "海口市秀英区\x1b[2J"),
            ("transport_no", "CZ\x7f6731"),
            ("port_of_entry", "美兰\x85机场"),
            ("registration_id", "HC-\x08-1"),
            ("name", "张海\x1f"),
        ],
    )
    async def test_a_control_character_in_any_text_field_is_refused_naming_it(
        self, sender: Sender, db, field, text
    ):
        item = registration(**{field: text})
        r = await sender.one(item)
        assert r.status_code == 422, r.text
        assert {"field": field, "reason": "含有不允许的控制字符"} in details(r)
        assert await count_returnees(db, item["registration_id"]) == 0

    async def test_a_lone_surrogate_escape_is_refused_naming_the_field(self, sender: Sender, client):
        item = registration(origin_city="广州\ud800")
        body = json.dumps(item).encode()  # "\\ud800": valid JSON text, no valid character
        r = await client.post(SINGLE, content=body, headers=_signed(sender, SINGLE, body))
        assert r.status_code == 422, r.text
        assert details(r) == [{"field": "origin_city", "reason": "含有不允许的控制字符"}]

    async def test_tab_and_newline_are_not_control_characters_here(self, sender: Sender):
        r = await sender.one(registration(destination="海口市秀英区秀华社区\n5栋302\t"))
        assert r.status_code == 201, r.text

    async def test_a_batch_rejects_only_the_item_with_the_control_character(self, sender: Sender):
        r = await sender.post(BATCH, {"items": [registration(name="李\x00四"), registration()]})
        body = r.json()
        assert [i["status"] for i in body["items"]] == ["rejected", "accepted"]
        assert body["items"][0]["errors"] == [{"field": "name", "reason": "含有不允许的控制字符"}]


def _signed(sender: Sender, path: str, body: bytes) -> dict[str, str]:
    return sender.headers(path, body)


class TestDuplicateKeys:
    async def test_a_single_registration_repeating_a_key_is_refused_naming_it(
        self, sender: Sender, db, client
    ):
        item = registration()
        text = orjson.dumps(item).decode()
        # The same key twice: a parser keeping the first reads another destination than one keeping the last.
        body = (text[:-1] + ',"destination":"三亚市天涯区"}').encode()
        r = await client.post(SINGLE, content=body, headers=_signed(sender, SINGLE, body))
        assert r.status_code == 422, r.text
        assert details(r) == [{"field": "destination", "reason": "字段重复出现"}]
        assert await count_returnees(db, item["registration_id"]) == 0

    async def test_a_batch_repeating_a_key_inside_an_item_is_refused_whole(self, sender: Sender, db, client):
        good, twice = registration(), registration()
        text = orjson.dumps(twice).decode()
        items = [orjson.dumps(good).decode(), text[:-1] + f',"registration_id":"{good["registration_id"]}"}}']
        body = ('{"items":[' + ",".join(items) + "]}").encode()
        r = await client.post(BATCH, content=body, headers=_signed(sender, BATCH, body))
        assert r.status_code == 422, r.text
        assert details(r) == [{"field": "registration_id", "reason": "字段重复出现"}]
        assert await count_returnees(db, good["registration_id"]) == 0

    async def test_a_repeated_envelope_key_is_refused(self, sender: Sender, client):
        body = b'{"items":[],"items":[' + orjson.dumps(registration()) + b"]}"
        r = await client.post(BATCH, content=body, headers=_signed(sender, BATCH, body))
        assert r.status_code == 422
        assert details(r) == [{"field": "items", "reason": "字段重复出现"}]

    async def test_distinct_keys_in_different_objects_are_fine(self, sender: Sender, client):
        body = orjson.dumps({"items": [registration(), registration()]})
        r = await client.post(BATCH, content=body, headers=_signed(sender, BATCH, body))
        assert r.status_code == 200 and r.json()["accepted"] == 2
