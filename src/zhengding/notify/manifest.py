"""The notify domain (消息通知): inbox, DING, SMS, and the outbox worker command."""

from __future__ import annotations

from datetime import timedelta

from zhengding.core.manifest import Handler, Manifest, Permission, Plug, Schedule

_JOBS = "zhengding.notify.jobs"
_COMMAND_AND_VILLAGE = ("province_command", "city_command", "county_command", "town_command", "village_staff")

manifest = Manifest(
    name="notify",
    label="消息通知",
    routers=(Plug("zhengding.notify.router:router", order=34),),
    models=("zhengding.notify.models",),
    permissions=(
        Permission("notify.ding.send", "发送DING消息"),
        Permission("outbox.read", "查看后台任务"),
        Permission("outbox.manage", "管理后台任务"),
        Permission("sms.read", "查看短信记录"),
    ),
    roles={
        **{role: ("notify.ding.send",) for role in _COMMAND_AND_VILLAGE},
        "system_admin": ("outbox.read", "outbox.manage", "sms.read"),
    },
    handlers=(
        Handler("notify.deliver", f"{_JOBS}:deliver"),
        Handler("notify.notification.escalate", f"{_JOBS}:escalate_notifications"),
        Handler("notify.sms.send", f"{_JOBS}:send_sms", prepare="zhengding.notify.sms.service:send_queued"),
        Handler("notify.sms.poll_status", f"{_JOBS}:poll_status", prepare=f"{_JOBS}:pull_reports"),
        Handler("notify.ding.escalate", f"{_JOBS}:escalate_ding"),
    ),
    schedules=(Schedule("notify.sms.poll_status", every=timedelta(minutes=1)),),
    cli="zhengding.notify.cli:register",
    event_types=(
        "notify.notification.created",
        "notify.notification.read",
        "notify.ding.received",
        "notify.ding.read",
        "notify.ding.reminded",
        "notify.ding.escalated",
    ),
)
