"""SMS providers: `log` (default: records and prints) and `tencent` (Tencent Cloud SMS API 2021-01-11).

Chosen by ZD_SMS_PROVIDER. The tencent adapter signs each request with TC3-HMAC-SHA256, sends
template id + ordered parameters, and pulls delivery reports (PullSmsSendStatus). Its endpoint
is configurable (ZD_SMS_ENDPOINT) so tests run it against a local HTTP server.

Errors: `TransientSmsError` (network, 5xx, throttling by the cloud, internal errors) is raised
so the outbox retries with backoff; `PermanentSmsError` (bad number, blacklisted, template
refused) marks the message failed without retrying.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx
import orjson

from zhengding.config import Settings, get_settings
from zhengding.core.clock import SHANGHAI, to_utc
from zhengding.notify.sms.templates import SmsTemplate

log = logging.getLogger("zhengding.sms")


class TransientSmsError(Exception):
    pass


class PermanentSmsError(Exception):
    pass


@dataclass
class DeliveryReport:
    provider_message_id: str
    delivered: bool
    at: datetime | None = None
    error: str | None = None


class SmsProvider(Protocol):
    name: str
    reports_delivery_on_send: bool

    async def send(self, phone: str, template: SmsTemplate, params: dict[str, str], *, ref: str) -> str:
        """Send; returns the provider's message id."""
        ...

    async def pull_reports(self) -> list[DeliveryReport]: ...


@dataclass
class LogProvider:
    """Development default: prints the text and keeps it in memory; counts as delivered at once."""

    name: str = "log"
    reports_delivery_on_send: bool = True
    sent: list[dict[str, Any]] = field(default_factory=list)

    async def send(self, phone: str, template: SmsTemplate, params: dict[str, str], *, ref: str) -> str:
        text = template.render(params)
        self.sent.append(
            {"phone": phone, "template": template.name, "params": params, "text": text, "ref": ref}
        )
        del self.sent[:-1000]
        log.info("SMS (log provider) to %s: %s", phone[:3] + "****" + phone[-4:], text)
        print(f"[SMS] {phone[:3]}****{phone[-4:]} {text}", flush=True)
        return f"log-{ref}"

    async def pull_reports(self) -> list[DeliveryReport]:
        return []


# Error codes of the Tencent SMS API after which retrying cannot help.
_PERMANENT_PREFIXES = (
    "InvalidParameterValue",
    "FailedOperation.PhoneNumberInBlacklist",
    "FailedOperation.TemplateIncorrectOrUnapproved",
    "FailedOperation.SignatureIncorrectOrUnapproved",
    "FailedOperation.ContainSensitiveWord",
    "UnsupportedOperation",
    "FailedOperation.PhoneNumberParseFail",
    "LimitExceeded.PhoneNumberDailyLimit",
    "LimitExceeded.PhoneNumberThirtySecondLimit",
    "LimitExceeded.PhoneNumberOneHourLimit",
    "LimitExceeded.PhoneNumberSameContentDailyLimit",
)


def tc3_authorization(
    *,
    secret_id: str,
    secret_key: str,
    host: str,
    payload: bytes,
    timestamp: int,
    service: str = "sms",
    content_type: str = "application/json; charset=utf-8",
) -> str:
    """The TC3-HMAC-SHA256 Authorization header of a Tencent Cloud API 3.0 POST request."""
    date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    canonical = "\n".join(
        [
            "POST",
            "/",
            "",
            f"content-type:{content_type}\nhost:{host}\n",
            "content-type;host",
            hashlib.sha256(payload).hexdigest(),
        ]
    )
    scope = f"{date}/{service}/tc3_request"
    to_sign = "\n".join(
        ["TC3-HMAC-SHA256", str(timestamp), scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )

    def _hmac(key: bytes, msg: str) -> bytes:
        return hmac.new(key, msg.encode(), hashlib.sha256).digest()

    signing = _hmac(_hmac(_hmac(("TC3" + secret_key).encode(), date), service), "tc3_request")
    signature = hmac.new(signing, to_sign.encode(), hashlib.sha256).hexdigest()
    return (
        f"TC3-HMAC-SHA256 Credential={secret_id}/{scope}, SignedHeaders=content-type;host, "
        f"Signature={signature}"
    )


@dataclass
class TencentCloudProvider:
    secret_id: str
    secret_key: str
    app_id: str  # SmsSdkAppId
    sign_name: str
    template_ids: dict[str, str]
    endpoint: str = "https://sms.tencentcloudapi.com"
    region: str = "ap-guangzhou"
    timeout: float = 10.0
    name: str = "tencent"
    reports_delivery_on_send: bool = False

    def _host(self) -> str:
        return httpx.URL(self.endpoint).host

    async def _call(self, action: str, body: dict[str, Any]) -> dict[str, Any]:
        payload = orjson.dumps(body)
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Host": self._host(),
            "X-TC-Action": action,
            "X-TC-Version": "2021-01-11",
            "X-TC-Timestamp": str(timestamp),
            "X-TC-Region": self.region,
            "Authorization": tc3_authorization(
                secret_id=self.secret_id,
                secret_key=self.secret_key,
                host=self._host(),
                payload=payload,
                timestamp=timestamp,
            ),
        }
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                response = await client.post(self.endpoint, content=payload, headers=headers)
        except httpx.HTTPError as exc:
            raise TransientSmsError(f"短信平台连接失败：{exc.__class__.__name__}") from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise TransientSmsError(f"短信平台返回 HTTP {response.status_code}")
        try:
            data = response.json()["Response"]
        except (ValueError, KeyError) as exc:
            raise TransientSmsError(f"短信平台应答无法解析（HTTP {response.status_code}）") from exc
        error = data.get("Error")
        if error:
            code = str(error.get("Code", ""))
            message = f"{code}: {error.get('Message', '')}"
            if code.startswith(_PERMANENT_PREFIXES):
                raise PermanentSmsError(message)
            raise TransientSmsError(message)
        return data

    async def send(self, phone: str, template: SmsTemplate, params: dict[str, str], *, ref: str) -> str:
        template_id = self.template_ids.get(template.name)
        if not template_id:
            raise PermanentSmsError(f"模板 {template.name} 未配置短信平台模板编号")
        number = phone if phone.startswith("+") else "+86" + phone
        data = await self._call(
            "SendSms",
            {
                "PhoneNumberSet": [number],
                "SmsSdkAppId": self.app_id,
                "SignName": self.sign_name,
                "TemplateId": template_id,
                "TemplateParamSet": template.ordered(params),
                "SessionContext": ref,
            },
        )
        statuses = data.get("SendStatusSet") or []
        if not statuses:
            raise TransientSmsError("短信平台未返回发送结果")
        status = statuses[0]
        code = str(status.get("Code", ""))
        if code != "Ok":
            message = f"{code}: {status.get('Message', '')}"
            if code.startswith(_PERMANENT_PREFIXES):
                raise PermanentSmsError(message)
            raise TransientSmsError(message)
        return str(status["SerialNo"])

    async def pull_reports(self) -> list[DeliveryReport]:
        data = await self._call("PullSmsSendStatus", {"Limit": 100, "SmsSdkAppId": self.app_id})
        reports = []
        for item in data.get("PullSmsSendStatusSet") or []:
            at = None
            if item.get("UserReceiveTime"):
                # "2019-10-08 17:18:37", Beijing time
                local = datetime.strptime(item["UserReceiveTime"], "%Y-%m-%d %H:%M:%S")
                at = to_utc(local.replace(tzinfo=SHANGHAI))
            ok = item.get("ReportStatus") == "SUCCESS"
            reports.append(
                DeliveryReport(
                    str(item.get("SerialNo")),
                    ok,
                    at,
                    None if ok else str(item.get("Description") or item.get("ReportStatus")),
                )
            )
        return reports


_provider: SmsProvider | None = None


def _template_ids(raw: str) -> dict[str, str]:
    out = {}
    for part in raw.split(","):
        if "=" in part:
            key, _, value = part.partition("=")
            out[key.strip()] = value.strip()
    return out


def provider_from_settings(settings: Settings | None = None) -> SmsProvider:
    settings = settings or get_settings()
    kind = settings.sms_provider
    if kind == "log":
        return LogProvider()
    if kind == "tencent":
        credentials = {
            "ZD_SMS_SECRET_ID": settings.sms_secret_id,
            "ZD_SMS_SECRET_KEY": settings.sms_secret_key,
            "ZD_SMS_APP_ID": settings.sms_app_id,
            "ZD_SMS_SIGN_NAME": settings.sms_sign_name,
        }
        missing = [name for name, value in credentials.items() if not value]
        if missing:
            raise RuntimeError("SMS provider tencent needs " + ", ".join(missing))
        return TencentCloudProvider(
            secret_id=settings.sms_secret_id,
            secret_key=settings.sms_secret_key,
            app_id=settings.sms_app_id,
            sign_name=settings.sms_sign_name,
            template_ids=_template_ids(settings.sms_template_ids),
            endpoint=settings.sms_endpoint,
            region=settings.sms_region,
        )
    raise RuntimeError(f"unknown SMS provider {kind!r} (ZD_SMS_PROVIDER: log | tencent)")


def current() -> SmsProvider:
    global _provider
    if _provider is None:
        _provider = provider_from_settings()
    return _provider


def set_provider(provider: SmsProvider | None) -> None:
    """Install a provider (tests); None returns to the environment's choice."""
    global _provider
    _provider = provider
