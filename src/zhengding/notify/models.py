from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from zhengding.core.models import Base, UTCDateTime, created_at_column, id_column
from zhengding.privacy.types import Encrypted


class Notification(Base):
    """One entry of a person's inbox (站内通知), linking to the object concerned."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_user_unread", "user_id", "read_at"),
        Index("ix_notifications_user_id_desc", "user_id", "id"),
    )

    id: Mapped[str] = id_column()
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(40))  # "ding", "supervision.reminder", "system" …
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str | None] = mapped_column(String(300))  # client route, e.g. "/ding/<id>"
    object_type: Mapped[str | None] = mapped_column(String(40))
    object_id: Mapped[str | None] = mapped_column(String(26))
    sender_id: Mapped[str | None] = mapped_column(String(26))
    source: Mapped[str | None] = mapped_column(String(80), index=True)  # outbox row or job that wrote it
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = created_at_column()


class Ding(Base):
    """An urgent message (DING): every recipient must confirm reading; unread ones get an SMS."""

    __tablename__ = "dings"

    id: Mapped[str] = id_column()
    sender_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    sender_name: Mapped[str] = mapped_column(String(50))
    content: Mapped[str] = mapped_column(Text)
    object_type: Mapped[str | None] = mapped_column(String(40))
    object_id: Mapped[str | None] = mapped_column(String(26))
    unit_ids: Mapped[list[str]] = mapped_column(JSON, default=list)  # units picked by the sender
    recipient_count: Mapped[int] = mapped_column(Integer)
    escalate_after_minutes: Mapped[int] = mapped_column(Integer)
    sms_enabled: Mapped[bool] = mapped_column(default=True)
    last_reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = created_at_column()


class DingRecipient(Base):
    __tablename__ = "ding_recipients"
    __table_args__ = (
        UniqueConstraint("ding_id", "user_id"),
        Index("ix_ding_recipients_user_read", "user_id", "read_at"),
    )

    id: Mapped[str] = id_column()
    ding_id: Mapped[str] = mapped_column(ForeignKey("dings.id"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    notification_id: Mapped[str | None] = mapped_column(String(26))
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sms_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # escalated to SMS
    remind_count: Mapped[int] = mapped_column(Integer, default=0)
    last_reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SmsMessage(Base):
    """One SMS: template + parameters, its provider and delivery status (phone encrypted at rest)."""

    __tablename__ = "sms_messages"
    __table_args__ = (Index("ix_sms_messages_phone_purpose_created", "phone_bidx", "purpose", "created_at"),)

    id: Mapped[str] = id_column()
    user_id: Mapped[str | None] = mapped_column(String(26), index=True)
    phone: Mapped[str] = mapped_column(Encrypted("sms_messages.phone"))
    phone_bidx: Mapped[str] = mapped_column(String(64))
    phone_last4: Mapped[str] = mapped_column(String(4))
    purpose: Mapped[str] = mapped_column(String(20))  # "code" | "notice"
    template: Mapped[str] = mapped_column(String(40))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), index=True)  # queued/sent/delivered/failed
    provider: Mapped[str | None] = mapped_column(String(20))
    provider_message_id: Mapped[str | None] = mapped_column(String(100), index=True)
    error: Mapped[str | None] = mapped_column(Text)
    object_type: Mapped[str | None] = mapped_column(String(40))
    object_id: Mapped[str | None] = mapped_column(String(26))
    created_at: Mapped[datetime] = created_at_column()
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
