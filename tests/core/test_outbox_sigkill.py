"""Worker processes killed with SIGKILL, again and again, while they drain 2,000 outbox rows:
afterwards every row is done or dead-lettered, no in-app notification is duplicated, and SMS
duplicates are at most one per kill."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import delete, func, select

from tests.conftest import SETTINGS
from tests.notify.fake_sms_cloud import APP_ID, SECRET_ID, SECRET_KEY, FakeSmsCloud
from tests.realtime.support import ensure_tables
from zhengding.core import outbox
from zhengding.core.ids import new_id
from zhengding.notify.models import Notification, SmsMessage
from zhengding.notify.sms import service as sms

ROOT = Path(__file__).resolve().parents[2]
ROWS = 2000


def worker_env(cloud: FakeSmsCloud) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZD_")}
    env.update(
        ZD_DEMO="1",
        ZD_DATABASE_URL=SETTINGS.database_url,
        ZD_SECRET_KEY=SETTINGS.secret_key,
        ZD_DATA_KEYS=SETTINGS.data_keys,
        ZD_INDEX_KEY=SETTINGS.index_key,
        ZD_LOG_LEVEL="ERROR",
        ZD_OUTBOX_LEASE_SECONDS="2",
        ZD_OUTBOX_POLL_SECONDS="0.1",
        ZD_OUTBOX_BACKOFF_SECONDS="0.5",
        ZD_OUTBOX_BATCH="20",
        ZD_SMS_PROVIDER="tencent",
        ZD_SMS_ENDPOINT=cloud.endpoint,
        ZD_SMS_SECRET_ID=SECRET_ID,
        ZD_SMS_SECRET_KEY=SECRET_KEY,
        ZD_SMS_APP_ID=APP_ID,
        ZD_SMS_SIGN_NAME="政钉",
        ZD_SMS_TEMPLATE_IDS="notice_unread=1003",
        ZD_SMS_NOTICE_PER_DAY="100000",
    )
    return env


def start_worker(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "zhengding.worker"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL
    )


async def status_counts(db) -> Counter:
    async with db.unit_of_work(readonly=True) as session:
        rows = (
            await session.execute(
                select(outbox.OutboxRow.status, func.count())
                .where(outbox.OutboxRow.handler.in_(["notify.deliver", sms.SEND_HANDLER]))
                .group_by(outbox.OutboxRow.status)
            )
        ).all()
    return Counter(dict(rows))


async def test_sigkilled_workers_lose_nothing_and_duplicate_no_notification(
    db, personas, clock, unique_phone
):
    await ensure_tables(db)
    clock.reset()  # the worker processes read the real time
    async with db.unit_of_work() as session:
        await session.execute(delete(outbox.OutboxRow))
    cloud = FakeSmsCloud()
    await cloud.start()
    run = new_id()
    users = [personas.grid1.user_id, personas.grid2.user_id, personas.town.user_id]
    async with db.unit_of_work() as session:
        for i in range(ROWS // 2):
            outbox.enqueue(
                session,
                "notify.deliver",
                {
                    "user_ids": [users[i % 3]],
                    "title": f"提醒{i}",
                    "kind": "test.kill",
                    "source": f"kill:{run}:{i}",
                },
            )
            await sms.queue_sms(
                session,
                phone=unique_phone(),
                template="notice_unread",
                params={"title": f"第{i}条"},
                object_type="test.kill",
                object_id=run,
            )
    env = worker_env(cloud)
    workers = [start_worker(env), start_worker(env)]
    kills = 0
    deadline = time.monotonic() + 240
    rng = random.Random(7)
    try:
        while time.monotonic() < deadline:
            await asyncio.sleep(rng.uniform(0.4, 1.0))
            counts = await status_counts(db)
            if counts[outbox.PENDING] + counts[outbox.RUNNING] == 0:
                break
            if kills < 25:
                victim = rng.randrange(len(workers))
                workers[victim].send_signal(signal.SIGKILL)
                workers[victim].wait()
                kills += 1
                workers[victim] = start_worker(env)
        counts = await status_counts(db)
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            try:
                w.wait(10)
            except subprocess.TimeoutExpired:
                w.kill()
        await cloud.stop()

    assert kills >= 5, "the workers finished before they could be killed often enough"
    assert counts[outbox.PENDING] == counts[outbox.RUNNING] == 0, counts
    assert counts[outbox.DONE] + counts[outbox.DEAD] == ROWS

    async with db.unit_of_work(readonly=True) as session:
        per_source = Counter(
            (
                await session.scalars(
                    select(Notification.source).where(Notification.source.like(f"kill:{run}:%"))
                )
            ).all()
        )
        done_deliver = (
            await session.execute(
                select(func.count())
                .select_from(outbox.OutboxRow)
                .where(outbox.OutboxRow.handler == "notify.deliver", outbox.OutboxRow.status == outbox.DONE)
            )
        ).scalar_one()
        sms_states = Counter(
            (await session.scalars(select(SmsMessage.status).where(SmsMessage.object_id == run))).all()
        )
        sms_ids = set((await session.scalars(select(SmsMessage.id).where(SmsMessage.object_id == run))).all())
    assert max(per_source.values()) == 1, "an in-app notification was written twice"
    assert len(per_source) == done_deliver  # every done row wrote its entry, exactly once
    sends = Counter(s["SessionContext"] for s in cloud.sent if s["SessionContext"] in sms_ids)
    duplicates = sum(n - 1 for n in sends.values())
    assert duplicates <= kills, (duplicates, kills)
    assert sms_states["sent"] == counts[outbox.DONE] - done_deliver
    print(f"\nkills={kills} statuses={dict(counts)} sms={dict(sms_states)} sms_duplicates={duplicates}")
