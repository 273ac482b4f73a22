"""Configuration from ZD_* environment variables.

Out of demo mode the server refuses to start with default or missing secrets (see
`Settings.check_secrets`).
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

# Well-known demo keys: usable only when ZD_DEMO=1. Never valid in production.
DEMO_SECRET_KEY = "demo-secret-key-not-for-production-000000"
DEMO_DATA_KEY = base64.b64encode(b"zhengding-demo-k").decode()  # 16 bytes: SM4 key
DEMO_INDEX_KEY = base64.b64encode(b"zhengding-demo-index-key-32bytes").decode()


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw not in (None, "") else default


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
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        demo = _bool(env.get("ZD_DEMO"))
        var_dir = Path(env.get("ZD_VAR_DIR") or Path.cwd() / "var")
        db = env.get("ZD_DATABASE_URL") or f"sqlite+aiosqlite:///{var_dir / 'zhengding.db'}"
        return cls(
            demo=demo,
            var_dir=var_dir,
            database_url=db,
            redis_url=env.get("ZD_REDIS_URL") or None,
            secret_key=env.get("ZD_SECRET_KEY") or (DEMO_SECRET_KEY if demo else ""),
            data_keys=env.get("ZD_DATA_KEYS") or (f"demo:{DEMO_DATA_KEY}" if demo else ""),
            index_key=env.get("ZD_INDEX_KEY") or (DEMO_INDEX_KEY if demo else ""),
            host=env.get("ZD_HOST", "127.0.0.1"),
            port=_int("ZD_PORT", 8000),
            max_body_bytes=_int("ZD_MAX_BODY_BYTES", 1_048_576),
            max_upload_bytes=_int("ZD_MAX_UPLOAD_BYTES", 20 * 1_048_576),
            session_idle_minutes=_int("ZD_SESSION_IDLE_MINUTES", 30),
            admin_session_idle_minutes=_int("ZD_ADMIN_SESSION_IDLE_MINUTES", 15),
            session_absolute_hours=_int("ZD_SESSION_ABSOLUTE_HOURS", 12),
            reveal_per_hour=_int("ZD_REVEAL_PER_HOUR", 30),
            run_worker=_bool(env.get("ZD_RUN_WORKER"), True),
            opentelemetry=_bool(env.get("ZD_OPENTELEMETRY")),
            gc_tuning=_bool(env.get("ZD_GC_TUNING"), True),
            stats_reuse_ms=_int("ZD_STATS_REUSE_MS", 500),
        )

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

    def check_secrets(self) -> None:
        if self.demo:
            return
        problems = self.secret_problems()
        if problems:
            raise SystemExit(
                "refusing to start outside demo mode: missing or default secrets: "
                + ", ".join(problems)
                + " (set them, or ZD_DEMO=1 for a demonstration)"
            )


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
