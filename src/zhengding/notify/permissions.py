"""Permissions of the notify domain (the roles holding them: the manifest)."""

from __future__ import annotations

DING_SEND = "notify.ding.send"
OUTBOX_READ = "outbox.read"
OUTBOX_MANAGE = "outbox.manage"
SMS_READ = "sms.read"
