"""Input hygiene of nucleic-acid results (#13 point 11): a result outside the documented values
(inbound: exactly "negative"/"positive"; file import: 阴性/阳性 and their listed spellings) is
refused naming the row and field, control characters are refused, and a signed body repeating
a key is refused before anything is stored."""

from __future__ import annotations

import csv
import io
import os

import orjson
import pytest

from tests.verification.support import new_id_number
from tests.verification.test_inbound_nat import PATH, Lab, count, result
from zhengding.privacy.crypto import blind_index
from zhengding.returnees import signing
from zhengding.verification.models import NatTestResult


@pytest.fixture(scope="session")
async def lab_source(db) -> tuple[str, str]:
    from zhengding.returnees.service import inbound

    async with db.unit_of_work() as session:
        source, secret = await inbound.add_source(session, f"检测机构-值-{os.getpid()}-{os.urandom(3).hex()}")
        return source.key_id, secret


@pytest.fixture
def lab(client, lab_source) -> Lab:
    return Lab(client, *lab_source)


RESULT_REASON = "应为 negative（阴性）或 positive（阳性）"


def _csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["姓名", "身份证号", "采样时间", "检测结果", "检测机构"])
    w.writerows(rows)
    return out.getvalue().encode("utf-8")


class TestInboundResultValues:
    @pytest.mark.parametrize("value", ["Negative", "POSITIVE", "阴性", "weak", "neg", "+", "negative\u200b"])
    async def test_a_result_outside_the_documented_values_is_refused(self, db, lab: Lab, value):
        person = new_id_number()
        r = await lab.post(result(person, result=value))
        assert r.status_code == 422, r.text
        assert r.json()["error"]["details"] == [{"field": "result", "reason": RESULT_REASON}]
        assert (
            await count(db, NatTestResult, NatTestResult.id_number_bidx == blind_index("id_number", person))
            == 0
        )

    async def test_the_documented_values_are_accepted(self, lab: Lab):
        r = await lab.post(
            {
                "items": [
                    result(new_id_number(), result="negative"),
                    result(new_id_number(), result="positive"),
                ]
            }
        )
        assert r.status_code == 200, r.text
        assert r.json()["accepted"] == 2

    async def test_a_batch_names_the_item_and_field(self, lab: Lab):
        r = await lab.post({"items": [result(new_id_number()), result(new_id_number(), result="可疑")]})
        items = r.json()["items"]
        assert [i["status"] for i in items] == ["accepted", "rejected"]
        assert items[1]["index"] == 1 and items[1]["errors"] == [{"field": "result", "reason": RESULT_REASON}]

    @pytest.mark.parametrize("field", ["lab", "sample_id", "id_number"])
    async def test_a_control_character_is_refused_naming_the_field(self, lab: Lab, field):
        item = result(new_id_number())
        item[field] = item[field][:3] + "\x00" + item[field][3:]
        r = await lab.post(item)
        assert r.status_code == 422, r.text
        assert r.json()["error"]["details"] == [{"field": field, "reason": "含有不允许的控制字符"}]


class TestInboundDuplicateKeys:
    async def test_a_result_repeating_a_key_is_refused_and_stores_nothing(self, db, client, lab: Lab):
        person = new_id_number()
        text = orjson.dumps(result(person, result="negative")).decode()
        body = (text[:-1] + ',"result":"positive"}').encode()
        headers = signing.signed_headers(lab.key_id, lab.secret, "POST", PATH, body)
        r = await client.post(PATH, content=body, headers=headers)
        assert r.status_code == 422, r.text
        assert r.json()["error"]["details"] == [{"field": "result", "reason": "字段重复出现"}]
        assert (
            await count(db, NatTestResult, NatTestResult.id_number_bidx == blind_index("id_number", person))
            == 0
        )

    async def test_a_batch_with_a_repeated_key_in_an_item_is_refused_whole(self, db, client, lab: Lab):
        first, second = new_id_number(), new_id_number()
        twice = orjson.dumps(result(second)).decode()[:-1] + f',"id_number":"{first}"}}'
        body = ('{"items":[' + orjson.dumps(result(first)).decode() + "," + twice + "]}").encode()
        headers = signing.signed_headers(lab.key_id, lab.secret, "POST", PATH, body)
        r = await client.post(PATH, content=body, headers=headers)
        assert r.status_code == 422, r.text
        assert r.json()["error"]["details"] == [{"field": "id_number", "reason": "字段重复出现"}]
        assert (
            await count(db, NatTestResult, NatTestResult.id_number_bidx == blind_index("id_number", first))
            == 0
        )


class TestImportedResultValues:
    async def test_a_result_outside_the_labels_is_refused_with_row_and_field(self, client, personas):
        ok, bad1, bad2 = new_id_number(), new_id_number(), new_id_number()
        content = _csv(
            [
                ["甲", ok, "2022-01-20 08:30", "阴性", "海口市人民医院"],
                ["乙", bad1, "2022-01-20 08:30", "弱阳性", "海口市人民医院"],
                ["丙", bad2, "2022-01-20 08:30", "待复核", "海口市人民医院"],
            ]
        )
        r = await client.post(
            "/api/verification/nat-results/import",
            headers=personas.province.headers,
            files={"file": ("nat.csv", content, "text/csv")},
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["recorded"], body["rejected"]) == (1, 2)
        assert body["errors"] == [
            {"field": "result", "reason": "检测结果应为 阴性 或 阳性", "row": 3},
            {"field": "result", "reason": "检测结果应为 阴性 或 阳性", "row": 4},
        ]
