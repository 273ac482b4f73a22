"""Configuration from ZD_* environment variables, checked at start.

`Settings.from_env` refuses (ConfigError, naming each variable and its rule) a value that does
not parse: an integer out of range, a word that is not a boolean, a key that is not base64 of
the right size, a proxy that is not an address. That holds in demo mode too: only a missing key
falls back to its demo value there. Out of demo mode the server also refuses to start with
missing or default secrets (see `Settings.check_secrets`).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

# Well-known demo keys: usable only when ZD_DEMO=1. Never valid in production.
DEMO_SECRET_KEY = "demo-secret-key-not-for-production-000000"
DEMO_DATA_KEY = base64.b64encode(b"zhengding-demo-k").decode()  # 16 bytes: SM4 key
DEMO_INDEX_KEY = base64.b64encode(b"zhengding-demo-index-key-32bytes").decode()

MIN_SECRET_KEY_CHARS = 32
DATA_KEY_BYTES = 16  # SM4
MIN_INDEX_KEY_BYTES = 16
_KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}

LOG_LEVELS = ("critical", "error", "warning", "info", "debug")
SMS_PROVIDERS = ("log", "tencent")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class ConfigError(SystemExit):
    """The settings cannot start a server; the message names each variable and its rule."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("配置有误，拒绝启动：\n" + "\n".join(f"  {name}：{rule}" for name, rule in problems))


def parse_data_keys(text: str) -> tuple[dict[str, bytes], list[str]]:
    """ZD_DATA_KEYS, "<key id>:<base64 of 16 bytes>" comma separated (the first is current):
    the keys, and what is wrong with the text (empty when it is well formed)."""
    keys: dict[str, bytes] = {}
    problems: list[str] = []
    for number, item in enumerate(filter(None, (part.strip() for part in text.split(","))), start=1):
        key_id, colon, encoded = item.partition(":")
        if not colon or not encoded:
            problems.append(
                f"第 {number} 项应为 密钥编号:base64（{DATA_KEY_BYTES} 字节 SM4 密钥），多项以逗号分隔"
            )
            continue
        if not _KEY_ID.fullmatch(key_id):
            problems.append(f"第 {number} 项的密钥编号应为 1–32 位字母、数字、_ 或 -")
            continue
        raw = _b64(encoded)
        if raw is None:
            problems.append(f"密钥 {key_id} 不是有效的 base64")
        elif len(raw) != DATA_KEY_BYTES:
            problems.append(f"密钥 {key_id} 应为 {DATA_KEY_BYTES} 字节（SM4 密钥），实为 {len(raw)} 字节")
        elif key_id in keys:
            problems.append(f"密钥编号 {key_id} 重复")
        else:
            keys[key_id] = raw
    if not keys and not problems:
        problems.append(f"应为 密钥编号:base64（{DATA_KEY_BYTES} 字节 SM4 密钥），多项以逗号分隔")
    return keys, problems


def parse_index_key(text: str) -> tuple[bytes, str | None]:
    """ZD_INDEX_KEY, base64 of at least 16 bytes: the key, and what is wrong with the text."""
    raw = _b64(text.strip())
    if raw is None:
        return b"", "不是有效的 base64"
    if len(raw) < MIN_INDEX_KEY_BYTES:
        return raw, f"应为至少 {MIN_INDEX_KEY_BYTES} 字节密钥的 base64（实为 {len(raw)} 字节）"
    return raw, None


def _b64(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


class _Reader:
    """Reads ZD_* variables, collecting what does not parse instead of stopping at the first."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[tuple[str, str]] = []

    def int(self, name: str, default: int, low: int = 1, high: int | None = None) -> int:
        raw = (self.env.get(name) or "").strip()
        if not raw:
            return default
        try:
            value = int(raw)
        except ValueError:
            self.problems.append((name, f"应为整数（当前为 {raw[:40]!r}）"))
            return default
        if value < low or (high is not None and value > high):
            bound = f"在 {low} 至 {high} 之间" if high is not None else f"不小于 {low}"
            self.problems.append((name, f"应{bound}（当前为 {value}）"))
            return default
        return value

    def float(self, name: str, default: float, low: float = 0.0, high: float | None = None) -> float:
        raw = (self.env.get(name) or "").strip()
        if not raw:
            return default
        try:
            value = float(raw)
        except ValueError:
            self.problems.append((name, f"应为数值（当前为 {raw[:40]!r}）"))
            return default
        if not math.isfinite(value) or value < low or (high is not None and value > high):
            bound = f"在 {low:g} 至 {high:g} 之间" if high is not None else f"不小于 {low:g}"
            self.problems.append((name, f"应{bound}（当前为 {raw[:40]}）"))
            return default
        return value

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        raw = (self.env.get(name) or "").strip().lower()
        if not raw:
            return default
        if raw in choices:
            return raw
        self.problems.append((name, f"应为 {' / '.join(choices)} 之一（当前为 {raw[:40]!r}）"))
        return default

    def bool(self, name: str, default: bool = False) -> bool:
        raw = (self.env.get(name) or "").strip().lower()
        if not raw:
            return default
        if raw in _TRUE | _FALSE:
            return raw in _TRUE
        self.problems.append((name, f"应为 1/0、true/false、yes/no 或 on/off（当前为 {raw[:40]!r}）"))
        return default

    def networks(self, name: str) -> tuple[Network, ...]:
        out: list[Network] = []
        for item in filter(None, (part.strip() for part in (self.env.get(name) or "").split(","))):
            try:
                out.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                self.problems.append(
                    (
                        name,
                        f"{item[:60]} 不是 IP 地址或网段（应为逗号分隔的地址或 CIDR，如 127.0.0.1,10.0.0.0/8）",
                    )
                )
        return tuple(out)


@dataclass(frozen=True)
class Settings:
    demo: bool
    var_dir: Path
    database_url: str
    redis_url: str | None
    secret_key: str
    # Personal-data keys: "<key_id>:<base64 16-byte SM4 key>", comma separated; first is current.
    data_keys: str
    index_key: str
    host: str = "127.0.0.1"
    port: int = 8000
    max_body_bytes: int = 1_048_576
    max_upload_bytes: int = 20 * 1_048_576
    # Spreadsheet uploads (core.spreadsheets.Limits): data rows below the header, columns,
    # characters in one cell, bytes the xlsx unpacks to (and text it may yield), compression
    # ratio of one part; the parse runs in a child process with this memory and time.
    upload_max_rows: int = 200_000
    upload_max_columns: int = 100
    upload_max_cell_chars: int = 10_000
    upload_max_unpacked_mb: int = 100
    upload_max_ratio: int = 100
    upload_parse_memory_mb: int = 1024
    upload_parse_seconds: int = 60
    session_idle_minutes: int = 30
    admin_session_idle_minutes: int = 15
    session_absolute_hours: int = 12
    lockout_failures: int = 5
    lockout_window_minutes: int = 15
    lockout_minutes: int = 15
    activation_code_days: int = 30
    reveal_per_hour: int = 30
    run_worker: bool = True
    # FastAPI's native OpenTelemetry: off unless asked for (checking for providers costs every
    # request a few environment lookups, ~9% of an inbound POST's CPU when nobody collects).
    opentelemetry: bool = False
    # Garbage-collector settings for a long-running server (see app.tune_gc).
    gc_tuning: bool = True
    # Verification statistics: a finished dashboard read is shared this long (ms; at most 2000,
    # 0 = only concurrent identical reads share), see verification/service/stats.py.
    stats_reuse_ms: int = 500
    # Reverse proxies whose X-Forwarded-For / X-Real-IP are believed (ZD_TRUSTED_PROXIES):
    # from any other peer those headers are ignored and the peer address is what is audited.
    trusted_proxies: tuple[Network, ...] = ()
    # Log level of the server and the worker processes (ZD_LOG_LEVEL).
    log_level: str = "info"
    # Outbox worker: rows claimed per round, lease of a claim, idle poll, retry backoff base.
    outbox_batch: int = 50
    outbox_lease_seconds: float = 60.0
    outbox_poll_seconds: float = 1.0
    outbox_backoff_seconds: float = 5.0
    # SMS: the provider ("log" prints; "tencent" needs the four credentials below), its
    # template ids ("purpose=id,…"), endpoint and region; notices per phone per day.
    sms_provider: str = "log"
    sms_secret_id: str = ""
    sms_secret_key: str = ""
    sms_app_id: str = ""
    sms_sign_name: str = ""
    sms_template_ids: str = ""
    sms_endpoint: str = "https://sms.tencentcloudapi.com"
    sms_region: str = "ap-guangzhou"
    sms_notice_per_day: int = 20
    # A DING unread this long goes out by SMS, unless the sender chose another delay.
    ding_escalate_minutes: int = 10
    # A supervised item's reminder unread this long goes out by SMS (the item's default).
    supervision_sms_after_minutes: int = 30
    # Returnee time rules (returnees/policy.py).
    returnees_ack_hours: float = 2.0
    returnees_monitoring_days: int = 14
    returnees_sms_after_minutes: float = 30.0
    returnees_escalate_hours: float = 2.0
    returnees_ding_sms_minutes: int = 10
    # Refusal audit rows per actor and action per minute in one process (http/refusals.py).
    audit_refusals_per_minute: int = 30
    # Real-time gateway: this node's name on the broker (default host:pid), how long the
    # broker keeps events for resuming clients, and how many it keeps at most.
    node_id: str | None = None
    realtime_retention_seconds: float = 3600.0
    realtime_max_events: int = 1000
    # Largest attachment (POST /api/files).
    attachment_max_bytes: int = 10 * 1_048_576
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls) -> Settings:
        """The settings of the environment; ConfigError when a value is malformed."""
        env = os.environ
        read = _Reader(env)
        demo = read.bool("ZD_DEMO")
        var_dir = Path(env.get("ZD_VAR_DIR") or Path.cwd() / "var")
        db = env.get("ZD_DATABASE_URL") or f"sqlite+aiosqlite:///{var_dir / 'zhengding.db'}"
        settings = cls(
            demo=demo,
            var_dir=var_dir,
            database_url=db,
            redis_url=env.get("ZD_REDIS_URL") or None,
            secret_key=env.get("ZD_SECRET_KEY") or (DEMO_SECRET_KEY if demo else ""),
            data_keys=env.get("ZD_DATA_KEYS") or (f"demo:{DEMO_DATA_KEY}" if demo else ""),
            index_key=env.get("ZD_INDEX_KEY") or (DEMO_INDEX_KEY if demo else ""),
            host=env.get("ZD_HOST", "127.0.0.1"),
            port=read.int("ZD_PORT", 8000, high=65535),
            max_body_bytes=read.int("ZD_MAX_BODY_BYTES", 1_048_576),
            max_upload_bytes=read.int("ZD_MAX_UPLOAD_BYTES", 20 * 1_048_576),
            upload_max_rows=read.int("ZD_UPLOAD_MAX_ROWS", 200_000),
            upload_max_columns=read.int("ZD_UPLOAD_MAX_COLUMNS", 100, high=16_384),
            upload_max_cell_chars=read.int("ZD_UPLOAD_MAX_CELL_CHARS", 10_000),
            upload_max_unpacked_mb=read.int("ZD_UPLOAD_MAX_UNPACKED_MB", 100),
            upload_max_ratio=read.int("ZD_UPLOAD_MAX_RATIO", 100, low=2),
            upload_parse_memory_mb=read.int("ZD_UPLOAD_PARSE_MEMORY_MB", 1024, low=256),
            upload_parse_seconds=read.int("ZD_UPLOAD_PARSE_SECONDS", 60),
            session_idle_minutes=read.int("ZD_SESSION_IDLE_MINUTES", 30),
            admin_session_idle_minutes=read.int("ZD_ADMIN_SESSION_IDLE_MINUTES", 15),
            session_absolute_hours=read.int("ZD_SESSION_ABSOLUTE_HOURS", 12),
            reveal_per_hour=read.int("ZD_REVEAL_PER_HOUR", 30, low=0),
            run_worker=read.bool("ZD_RUN_WORKER", True),
            opentelemetry=read.bool("ZD_OPENTELEMETRY"),
            gc_tuning=read.bool("ZD_GC_TUNING", True),
            stats_reuse_ms=read.int("ZD_STATS_REUSE_MS", 500, low=0, high=2000),
            trusted_proxies=read.networks("ZD_TRUSTED_PROXIES"),
            log_level=read.choice("ZD_LOG_LEVEL", "info", LOG_LEVELS),
            outbox_batch=read.int("ZD_OUTBOX_BATCH", 50, high=10_000),
            outbox_lease_seconds=read.float("ZD_OUTBOX_LEASE_SECONDS", 60.0, low=1, high=86_400),
            outbox_poll_seconds=read.float("ZD_OUTBOX_POLL_SECONDS", 1.0, low=0.01, high=3600),
            outbox_backoff_seconds=read.float("ZD_OUTBOX_BACKOFF_SECONDS", 5.0, low=0, high=3600),
            sms_provider=read.choice("ZD_SMS_PROVIDER", "log", SMS_PROVIDERS),
            sms_secret_id=env.get("ZD_SMS_SECRET_ID") or "",
            sms_secret_key=env.get("ZD_SMS_SECRET_KEY") or "",
            sms_app_id=env.get("ZD_SMS_APP_ID") or "",
            sms_sign_name=env.get("ZD_SMS_SIGN_NAME") or "",
            sms_template_ids=env.get("ZD_SMS_TEMPLATE_IDS") or "",
            sms_endpoint=env.get("ZD_SMS_ENDPOINT") or "https://sms.tencentcloudapi.com",
            sms_region=env.get("ZD_SMS_REGION") or "ap-guangzhou",
            sms_notice_per_day=read.int("ZD_SMS_NOTICE_PER_DAY", 20, high=1_000_000),
            ding_escalate_minutes=read.int("ZD_DING_ESCALATE_MINUTES", 10, high=7 * 24 * 60),
            supervision_sms_after_minutes=read.int("ZD_SUPERVISION_SMS_AFTER_MINUTES", 30, high=7 * 24 * 60),
            returnees_ack_hours=read.float("ZD_RETURNEES_ACK_HOURS", 2.0, low=0.01, high=24 * 30),
            returnees_monitoring_days=read.int("ZD_RETURNEES_MONITORING_DAYS", 14, high=365),
            returnees_sms_after_minutes=read.float(
                "ZD_RETURNEES_SMS_AFTER_MINUTES", 30.0, low=0.01, high=7 * 24 * 60
            ),
            returnees_escalate_hours=read.float("ZD_RETURNEES_ESCALATE_HOURS", 2.0, low=0.01, high=24 * 30),
            returnees_ding_sms_minutes=read.int("ZD_RETURNEES_DING_SMS_MINUTES", 10, high=7 * 24 * 60),
            audit_refusals_per_minute=read.int("ZD_AUDIT_REFUSALS_PER_MINUTE", 30, low=0, high=100_000),
            node_id=(env.get("ZD_NODE_ID") or "").strip() or None,
            realtime_retention_seconds=read.float(
                "ZD_REALTIME_RETENTION_SECONDS", 3600.0, low=1, high=7 * 86_400
            ),
            realtime_max_events=read.int("ZD_REALTIME_MAX_EVENTS", 1000, high=1_000_000),
            attachment_max_bytes=read.int("ZD_ATTACHMENT_MAX_BYTES", 10 * 1_048_576),
        )
        if read.problems or settings.key_problems():
            raise ConfigError(read.problems + settings.secret_report())
        return settings

    def key_problems(self) -> list[tuple[str, str]]:
        """Secrets that are set but malformed (a missing one is `secret_problems`' business)."""
        problems: list[tuple[str, str]] = []
        if self.secret_key and len(self.secret_key) < MIN_SECRET_KEY_CHARS:
            problems.append(
                ("ZD_SECRET_KEY", f"至少 {MIN_SECRET_KEY_CHARS} 个字符（当前 {len(self.secret_key)} 个）")
            )
        if self.data_keys:
            _, reasons = parse_data_keys(self.data_keys)
            if reasons:
                problems.append(("ZD_DATA_KEYS", "；".join(reasons)))
        if self.index_key:
            _, reason = parse_index_key(self.index_key)
            if reason:
                problems.append(("ZD_INDEX_KEY", reason))
        return problems

    def secret_problems(self) -> list[str]:
        """Names of secrets that are missing or left at their demo value."""
        problems = []
        if not self.secret_key or self.secret_key == DEMO_SECRET_KEY:
            problems.append("ZD_SECRET_KEY")
        if not self.data_keys or DEMO_DATA_KEY in self.data_keys:
            problems.append("ZD_DATA_KEYS")
        if not self.index_key or self.index_key == DEMO_INDEX_KEY:
            problems.append("ZD_INDEX_KEY")
        return problems

    def secret_report(self) -> list[tuple[str, str]]:
        """(variable, rule) of each secret that cannot start a server: malformed, or (outside
        demo mode) missing or left at its demo value."""
        problems = dict(self.key_problems())
        if not self.demo:
            for name in self.secret_problems():
                problems.setdefault(name, _MISSING)
        return [
            (name, problems[name])
            for name in ("ZD_SECRET_KEY", "ZD_DATA_KEYS", "ZD_INDEX_KEY")
            if name in problems
        ]

    def check_secrets(self) -> None:
        problems = self.secret_report()
        if problems:
            raise ConfigError(problems)


_MISSING = "未设置或仍为公开的演示值，不能用于正式环境（请设置；演示请用 ZD_DEMO=1）"


_override: Settings | None = None


@lru_cache(maxsize=1)
def _from_env() -> Settings:
    return Settings.from_env()


def get_settings() -> Settings:
    return _override or _from_env()


def set_settings(settings: Settings | None) -> None:
    """Install settings explicitly (tests, CLI); None returns to the environment."""
    global _override
    _override = settings
    _from_env.cache_clear()
