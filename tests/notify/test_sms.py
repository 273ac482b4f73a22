"""SMS: templates, per-phone limits, the log provider, the Tencent Cloud adapter against a local
server (signature, template id + parameters, retries, permanent failures, delivery status)."""

from __future__ import annotations

import pytest

from tests.notify.fake_sms_cloud import APP_ID, SECRET_ID, SECRET_KEY, FakeSmsCloud
from zhengding.core import jobs, outbox
from zhengding.core.db import get_db
from zhengding.core.errors import RateLimited
from zhengding.notify import jobs as notify_jobs  # noqa: F401
from zhengding.notify.models import SmsMessage
from zhengding.notify.sms import providers
from zhengding.notify.sms import service as sms


async def queue(phone: str, template: str = "code", **params) -> str:
    async with get_db().unit_of_work() as session:
        message = await sms.queue_sms(
            session, phone=phone, template=template, params=params or {"code": "123456", "minutes": "5"}
        )
        return message.id


async def message(sms_id: str) -> dict:
    async with get_db().unit_of_work(readonly=True) as session:
        m = await session.get(SmsMessage, sms_id)
        return {
            "status": m.status,
            "provider_message_id": m.provider_message_id,
            "error": m.error,
            "delivered_at": m.delivered_at,
            "phone_last4": m.phone_last4,
        }


async def run_due(db, clock=None) -> None:
    for _ in range(10):
        if clock is not None:
            clock.advance(hours=2)  # past any backoff
        await outbox.drain(db)


class TestLimits:
    async def test_codes_at_most_one_a_minute_and_ten_a_day(self, db, clock, unique_phone):
        phone = unique_phone()
        await queue(phone)
        with pytest.raises(RateLimited):
            await queue(phone)
        for _ in range(9):
            clock.advance(minutes=1, seconds=1)
            await queue(phone)
        clock.advance(minutes=1, seconds=1)
        with pytest.raises(RateLimited):
            await queue(phone)
        clock.advance(days=1)
        await queue(phone)  # a new day

    async def test_notices_past_the_daily_cap_are_recorded_not_sent(self, db, unique_phone, configure):
        configure(sms_notice_per_day=2)
        phone = unique_phone()
        ids = [await queue(phone, "notice_unread", title="通知") for _ in range(3)]
        assert [(await message(i))["status"] for i in ids] == ["queued", "queued", "rate_limited"]


class TestLogProvider:
    async def test_records_prints_and_counts_as_delivered(self, db, unique_phone, capsys):
        provider = providers.LogProvider()
        providers.set_provider(provider)
        try:
            phone = unique_phone()
            sms_id = await queue(phone, "code", code="864213", minutes="5")
            await outbox.drain(db)
        finally:
            providers.set_provider(None)
        assert (await message(sms_id))["status"] == "delivered"
        assert provider.sent[-1]["text"] == "【政钉】您的验证码为864213，5分钟内有效，请勿泄露给他人。"
        assert "864213" in capsys.readouterr().out


@pytest.fixture
async def cloud():
    fake = FakeSmsCloud()
    await fake.start()
    providers.set_provider(
        providers.TencentCloudProvider(
            secret_id=SECRET_ID,
            secret_key=SECRET_KEY,
            app_id=APP_ID,
            sign_name="政钉",
            template_ids={"code": "1001", "ding_unread": "1002", "notice_unread": "1003"},
            endpoint=fake.endpoint,
        )
    )
    saved = dict(jobs._schedules)
    yield fake
    jobs._schedules.update(saved)
    providers.set_provider(None)
    await fake.stop()


class TestTencentAdapter:
    async def test_signed_request_with_template_id_and_ordered_params(self, db, cloud, unique_phone):
        phone = unique_phone()
        sms_id = await queue(phone, "ding_unread", sender="林镇干", summary="上报核查情况")
        await outbox.drain(db)
        assert cloud.bad_signatures == 0
        sent = cloud.sent[-1]
        assert sent["PhoneNumberSet"] == ["+86" + phone] and sent["TemplateId"] == "1002"
        assert sent["TemplateParamSet"] == ["林镇干", "上报核查情况"] and sent["SmsSdkAppId"] == APP_ID
        assert sent["SessionContext"] == sms_id
        state = await message(sms_id)
        assert state["status"] == "sent" and state["provider_message_id"] == sent["SerialNo"]

    async def test_delivery_status_is_pulled_and_stored(self, db, cloud, unique_phone, clock):
        ok_id = await queue(unique_phone(), "notice_unread", title="甲")
        bad_id = await queue(unique_phone(), "notice_unread", title="乙")
        await outbox.drain(db)
        cloud.deliver((await message(ok_id))["provider_message_id"])
        cloud.deliver((await message(bad_id))["provider_message_id"], ok=False)
        clock.advance(minutes=1)  # the next poll slot
        await outbox.drain(db)
        ok, bad = await message(ok_id), await message(bad_id)
        assert ok["status"] == "delivered" and ok["delivered_at"] is not None
        assert bad["status"] == "failed" and bad["error"] == "空号"

    async def test_transient_failures_are_retried(self, db, cloud, unique_phone, clock):
        cloud.fail_next = ["500", "InternalError.Timeout"]
        sms_id = await queue(unique_phone(), "notice_unread", title="丙")
        await outbox.drain(db)
        assert (await message(sms_id))["status"] == "queued"
        await run_due(db, clock)
        assert (await message(sms_id))["status"] == "sent"
        assert len([s for s in cloud.sent if s["SessionContext"] == sms_id]) == 1

    async def test_permanent_refusal_fails_the_message_without_retry(self, db, cloud, unique_phone, clock):
        cloud.fail_next = ["FailedOperation.PhoneNumberInBlacklist"]
        sms_id = await queue(unique_phone(), "notice_unread", title="丁")
        await run_due(db, clock)
        state = await message(sms_id)
        assert state["status"] == "failed" and "PhoneNumberInBlacklist" in state["error"]
        assert not [s for s in cloud.sent if s["SessionContext"] == sms_id]

    async def test_wrong_secret_is_refused_by_the_cloud(self, db, cloud, unique_phone):
        providers.set_provider(
            providers.TencentCloudProvider(
                secret_id=SECRET_ID,
                secret_key="wrong",
                app_id=APP_ID,
                sign_name="政钉",
                template_ids={"notice_unread": "1003"},
                endpoint=cloud.endpoint,
            )
        )
        sms_id = await queue(unique_phone(), "notice_unread", title="戊")
        await outbox.drain(db)
        assert cloud.bad_signatures == 1 and (await message(sms_id))["status"] == "queued"


class TestAdminList:
    async def test_sysadmin_sees_statuses_masked(self, client, personas, db, unique_phone):
        sms_id = await queue(unique_phone(), "notice_unread", title="己")
        r = await client.get("/api/sms?status=queued", headers=personas.sysadmin.headers)
        assert r.status_code == 200
        row = next(m for m in r.json() if m["id"] == sms_id)
        assert row["phone_masked"].startswith("*") and "params" not in row
        assert (await client.get("/api/sms", headers=personas.town.headers)).status_code == 403
