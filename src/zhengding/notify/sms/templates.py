"""SMS templates: our name → text with named parameters (the provider's template ids come from config)."""

from __future__ import annotations

from dataclasses import dataclass

from zhengding.core.errors import ValidationFailed


@dataclass(frozen=True)
class SmsTemplate:
    name: str
    text: str  # "{param}" placeholders, in the order the provider template expects them
    params: tuple[str, ...]
    purpose: str = "notice"  # "code" messages have the strict per-phone limits

    def render(self, params: dict[str, str]) -> str:
        return self.text.format(**{k: params.get(k, "") for k in self.params})

    def ordered(self, params: dict[str, str]) -> list[str]:
        return [str(params.get(k, "")) for k in self.params]


TEMPLATES: dict[str, SmsTemplate] = {
    t.name: t
    for t in [
        SmsTemplate(
            "code",
            "【政钉】您的验证码为{code}，{minutes}分钟内有效，请勿泄露给他人。",
            ("code", "minutes"),
            purpose="code",
        ),
        SmsTemplate(
            "ding_unread",
            "【政钉】{sender}给您发送了一条紧急消息（DING）：{summary}。请尽快登录政钉查看并确认。",
            ("sender", "summary"),
        ),
        SmsTemplate("notice_unread", "【政钉】您有一条未读通知：{title}。请尽快登录政钉查看。", ("title",)),
        SmsTemplate("reminder", "【政钉】催办提醒：{title}，{detail}。", ("title", "detail")),
    ]
}


def get_template(name: str) -> SmsTemplate:
    try:
        return TEMPLATES[name]
    except KeyError:
        raise ValidationFailed(f"短信模板不存在：{name}") from None


def summarize(text: str, limit: int = 20) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
