"""Permissions of the notify domain, added to the built-in roles at import."""

from __future__ import annotations

from zhengding.authz.roles import extend_role

DING_SEND = "notify.ding.send"
OUTBOX_READ = "outbox.read"
OUTBOX_MANAGE = "outbox.manage"
SMS_READ = "sms.read"

for _role in ("province_command", "city_command", "county_command", "town_command", "village_staff"):
    extend_role(_role, DING_SEND)
extend_role("system_admin", OUTBOX_READ, OUTBOX_MANAGE, SMS_READ)
