"""Configuration: the server refuses to start with missing, default or malformed settings."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from zhengding.config import DEMO_DATA_KEY, DEMO_INDEX_KEY, DEMO_SECRET_KEY, ConfigError, Settings

ZHENGDING = Path(sys.executable).with_name("zhengding")
REAL = {
    "ZD_SECRET_KEY": "a-real-secret-key-0123456789abcdef",
    "ZD_DATA_KEYS": "k1:" + base64.b64encode(b"0123456789abcdef").decode(),
    "ZD_INDEX_KEY": base64.b64encode(b"a-real-index-key-of-32-bytes!!!!").decode(),
}


def _from_env(monkeypatch, **env: str) -> Settings:
    for key in list(os.environ):
        if key.startswith("ZD_"):
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return Settings.from_env()


def test_missing_secrets_are_each_named(monkeypatch):
    settings = _from_env(monkeypatch)
    assert settings.demo is False
    with pytest.raises(SystemExit) as exc:
        settings.check_secrets()
    message = str(exc.value)
    for name in ("ZD_SECRET_KEY", "ZD_DATA_KEYS", "ZD_INDEX_KEY"):
        assert name in message


@pytest.mark.parametrize("missing", sorted(REAL))
def test_one_missing_secret_is_named_alone(monkeypatch, missing):
    settings = _from_env(monkeypatch, **{k: v for k, v in REAL.items() if k != missing})
    with pytest.raises(SystemExit) as exc:
        settings.check_secrets()
    named = {name for name in REAL if name in str(exc.value)}
    assert named == {missing}


def test_demo_values_count_as_missing(monkeypatch):
    settings = _from_env(
        monkeypatch,
        ZD_SECRET_KEY=DEMO_SECRET_KEY,
        ZD_DATA_KEYS=f"k1:{DEMO_DATA_KEY}",
        ZD_INDEX_KEY=DEMO_INDEX_KEY,
    )
    assert settings.secret_problems() == ["ZD_SECRET_KEY", "ZD_DATA_KEYS", "ZD_INDEX_KEY"]
    # the demo key kept as an old key for rotation still counts
    rotated = replace(
        settings,
        secret_key=REAL["ZD_SECRET_KEY"],
        index_key=REAL["ZD_INDEX_KEY"],
        data_keys=REAL["ZD_DATA_KEYS"] + f",demo:{DEMO_DATA_KEY}",
    )
    assert rotated.secret_problems() == ["ZD_DATA_KEYS"]


def test_real_secrets_pass(monkeypatch):
    settings = _from_env(monkeypatch, **REAL)
    settings.check_secrets()
    assert settings.secret_problems() == []


def test_demo_mode_starts_with_the_demo_keys(monkeypatch):
    settings = _from_env(monkeypatch, ZD_DEMO="1")
    assert settings.demo and settings.secret_key == DEMO_SECRET_KEY and DEMO_DATA_KEY in settings.data_keys
    settings.check_secrets()


def test_serve_refuses_to_start_without_secrets(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZD_")}
    env["ZD_VAR_DIR"] = str(tmp_path)
    result = subprocess.run(
        [str(ZHENGDING), "serve", "--port", "1"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert result.stderr.startswith("配置有误，拒绝启动：")
    for name in ("ZD_SECRET_KEY", "ZD_DATA_KEYS", "ZD_INDEX_KEY"):
        assert name in result.stderr
    assert not (tmp_path / "zhengding.db").exists()


def test_the_server_tunes_the_garbage_collector_after_start_up_unless_told_not_to(monkeypatch, tmp_path):
    assert _from_env(monkeypatch).gc_tuning is True
    assert _from_env(monkeypatch, ZD_GC_TUNING="0").gc_tuning is False
    # A real server process: the thresholds and the frozen heap are read inside it.
    probe = (
        "import asyncio, gc\n"
        "from zhengding.app import create_app\n"
        "app = create_app()\n"
        "async def main():\n"
        "    async with app.router.lifespan_context(app):\n"
        "        print(gc.get_threshold(), gc.get_freeze_count() > 0)\n"
        "asyncio.run(main())\n"
    )
    for flag, expected in (("1", "(50000, 50, 100) True"), ("0", "(700, 10, 10) False")):
        env = {
            **os.environ,
            "ZD_DEMO": "1",
            "ZD_GC_TUNING": flag,
            "ZD_RUN_WORKER": "0",
            "ZD_VAR_DIR": str(tmp_path),
            "ZD_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'gc.db'}",
        }
        out = subprocess.run(
            [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120
        )
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip().splitlines()[-1] == expected


# --- malformed values (issue #13, point 10) ------------------------------------------------


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


MALFORMED = [
    ("ZD_SECRET_KEY", "x", "至少 32 个字符"),
    ("ZD_DATA_KEYS", "k1" + _b64(b"0123456789abcdef"), "应为 密钥编号:base64"),
    ("ZD_DATA_KEYS", "k1:not-base64!", "不是有效的 base64"),
    ("ZD_DATA_KEYS", "k1:" + _b64(b"short"), "应为 16 字节（SM4 密钥），实为 5 字节"),
    (
        "ZD_DATA_KEYS",
        "k1:" + _b64(b"0123456789abcdef") + ",k1:" + _b64(b"fedcba9876543210"),
        "密钥编号 k1 重复",
    ),
    ("ZD_DATA_KEYS", "k 1:" + _b64(b"0123456789abcdef"), "密钥编号应为 1–32 位字母、数字、_ 或 -"),
    ("ZD_INDEX_KEY", _b64(b"x"), "应为至少 16 字节密钥的 base64（实为 1 字节）"),
    ("ZD_INDEX_KEY", "***", "不是有效的 base64"),
    ("ZD_PORT", "eighty", "应为整数"),
    ("ZD_PORT", "70000", "应在 1 至 65535 之间"),
    ("ZD_MAX_BODY_BYTES", "0", "应不小于 1（当前为 0）"),
    ("ZD_STATS_REUSE_MS", "5000", "应在 0 至 2000 之间"),
    ("ZD_RUN_WORKER", "maybe", "应为 1/0、true/false、yes/no 或 on/off"),
    ("ZD_TRUSTED_PROXIES", "10.0.0.1,proxy.local", "proxy.local 不是 IP 地址或网段"),
    ("ZD_LOG_LEVEL", "loud", "应为 critical / error / warning / info / debug 之一"),
    ("ZD_SMS_PROVIDER", "pigeon", "应为 log / tencent 之一"),
    ("ZD_SMS_NOTICE_PER_DAY", "many", "应为整数"),
    ("ZD_OUTBOX_POLL_SECONDS", "fast", "应为数值"),
    ("ZD_OUTBOX_LEASE_SECONDS", "nan", "应在 1 至 86400 之间"),
    ("ZD_REALTIME_RETENTION_SECONDS", "0", "应在 1 至 604800 之间（当前为 0）"),
    ("ZD_RETURNEES_MONITORING_DAYS", "0", "应在 1 至 365 之间（当前为 0）"),
    ("ZD_ATTACHMENT_MAX_BYTES", "-1", "应不小于 1（当前为 -1）"),
]


@pytest.mark.parametrize("demo", [False, True], ids=["production", "demo"])
@pytest.mark.parametrize(("name", "value", "rule"), MALFORMED, ids=[f"{n}={v[:12]}" for n, v, _ in MALFORMED])
def test_a_malformed_value_is_refused_naming_the_variable_and_the_rule(monkeypatch, name, value, rule, demo):
    env = {**REAL, name: value, **({"ZD_DEMO": "1"} if demo else {})}
    with pytest.raises(ConfigError) as exc:
        _from_env(monkeypatch, **env)
    lines = str(exc.value).splitlines()
    assert lines[0] == "配置有误，拒绝启动："
    (line,) = lines[1:]
    assert line.startswith(f"  {name}：") and rule in line


def test_every_problem_is_reported_at_once(monkeypatch):
    with pytest.raises(ConfigError) as exc:
        _from_env(monkeypatch, ZD_SECRET_KEY="x", ZD_DATA_KEYS="k1:%%%", ZD_INDEX_KEY=_b64(b"x"), ZD_PORT="p")
    named = [line.split("：")[0].strip() for line in str(exc.value).splitlines()[1:]]
    assert named == ["ZD_PORT", "ZD_SECRET_KEY", "ZD_DATA_KEYS", "ZD_INDEX_KEY"]


def test_the_key_rules_match_what_the_keyring_accepts(monkeypatch):
    from zhengding.privacy.crypto import Keyring

    settings = _from_env(
        monkeypatch, **{**REAL, "ZD_DATA_KEYS": f"new-2:{_b64(b'fedcba9876543210')}, {REAL['ZD_DATA_KEYS']}"}
    )
    ring = Keyring.parse(settings.data_keys, settings.index_key)
    assert ring.current_id == "new-2" and set(ring.keys) == {"new-2", "k1"}


def test_trusted_proxies_are_addresses_and_networks(monkeypatch):
    settings = _from_env(monkeypatch, **REAL, ZD_TRUSTED_PROXIES=" 127.0.0.1, 10.0.0.0/8 ,::1,")
    assert [str(n) for n in settings.trusted_proxies] == ["127.0.0.1/32", "10.0.0.0/8", "::1/128"]
    assert _from_env(monkeypatch, **REAL).trusted_proxies == ()


def _serve(tmp_path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ZD_")}
    return subprocess.run(
        [str(ZHENGDING), "serve", "--port", "1", *args],
        env={**clean, "ZD_VAR_DIR": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_serve_refuses_malformed_keys_before_starting(tmp_path):
    result = _serve(tmp_path, {"ZD_SECRET_KEY": "x", "ZD_DATA_KEYS": "k1:AAAA", "ZD_INDEX_KEY": _b64(b"x")})
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[0] == "配置有误，拒绝启动："
    assert [line.split("：")[0].strip() for line in lines[1:]] == [
        "ZD_SECRET_KEY",
        "ZD_DATA_KEYS",
        "ZD_INDEX_KEY",
    ]
    assert not (tmp_path / "zhengding.db").exists()


def test_serve_refuses_a_malformed_value_in_demo_mode_too(tmp_path):
    result = _serve(tmp_path, {"ZD_DEMO": "1", "ZD_INDEX_KEY": _b64(b"x")})
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[1:] == [
        "  ZD_INDEX_KEY：应为至少 16 字节密钥的 base64（实为 1 字节）"
    ]


def test_serve_with_several_workers_needs_redis(tmp_path):
    result = _serve(tmp_path, {"ZD_DEMO": "1"}, "--workers", "2")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip() == (
        "--workers 2 需要设置 ZD_REDIS_URL：没有 Redis 时实时推送只能送达一个工作进程的连接，"
        "请设置 ZD_REDIS_URL 或以 --workers 1 运行"
    )
    assert not (tmp_path / "zhengding.db").exists()


# --- every variable is read here (issue #14, point 5) ----------------------------------------

READ = [
    ("ZD_LOG_LEVEL", "WARNING", "log_level", "warning"),
    ("ZD_OUTBOX_BATCH", "20", "outbox_batch", 20),
    ("ZD_OUTBOX_LEASE_SECONDS", "2", "outbox_lease_seconds", 2.0),
    ("ZD_OUTBOX_POLL_SECONDS", "0.1", "outbox_poll_seconds", 0.1),
    ("ZD_OUTBOX_BACKOFF_SECONDS", "0.5", "outbox_backoff_seconds", 0.5),
    ("ZD_SMS_PROVIDER", "Tencent", "sms_provider", "tencent"),
    ("ZD_SMS_SECRET_ID", "AKID1", "sms_secret_id", "AKID1"),
    ("ZD_SMS_SECRET_KEY", "sk", "sms_secret_key", "sk"),
    ("ZD_SMS_APP_ID", "1400", "sms_app_id", "1400"),
    ("ZD_SMS_SIGN_NAME", "政钉", "sms_sign_name", "政钉"),
    ("ZD_SMS_TEMPLATE_IDS", "code=1", "sms_template_ids", "code=1"),
    ("ZD_SMS_ENDPOINT", "http://127.0.0.1:9", "sms_endpoint", "http://127.0.0.1:9"),
    ("ZD_SMS_REGION", "ap-beijing", "sms_region", "ap-beijing"),
    ("ZD_SMS_NOTICE_PER_DAY", "2", "sms_notice_per_day", 2),
    ("ZD_DING_ESCALATE_MINUTES", "5", "ding_escalate_minutes", 5),
    ("ZD_SUPERVISION_SMS_AFTER_MINUTES", "45", "supervision_sms_after_minutes", 45),
    ("ZD_RETURNEES_ACK_HOURS", "1.5", "returnees_ack_hours", 1.5),
    ("ZD_RETURNEES_MONITORING_DAYS", "7", "returnees_monitoring_days", 7),
    ("ZD_RETURNEES_SMS_AFTER_MINUTES", "15", "returnees_sms_after_minutes", 15.0),
    ("ZD_RETURNEES_ESCALATE_HOURS", "3", "returnees_escalate_hours", 3.0),
    ("ZD_RETURNEES_DING_SMS_MINUTES", "20", "returnees_ding_sms_minutes", 20),
    ("ZD_AUDIT_REFUSALS_PER_MINUTE", "0", "audit_refusals_per_minute", 0),
    ("ZD_NODE_ID", " node-a ", "node_id", "node-a"),
    ("ZD_REALTIME_RETENTION_SECONDS", "60", "realtime_retention_seconds", 60.0),
    ("ZD_REALTIME_MAX_EVENTS", "50", "realtime_max_events", 50),
    ("ZD_ATTACHMENT_MAX_BYTES", "1000", "attachment_max_bytes", 1000),
]


@pytest.mark.parametrize(("name", "value", "attribute", "expected"), READ, ids=[r[0] for r in READ])
def test_each_variable_is_a_setting(monkeypatch, name, value, attribute, expected):
    default = getattr(_from_env(monkeypatch, **REAL), attribute)
    assert getattr(_from_env(monkeypatch, **REAL, **{name: value}), attribute) == expected != default


def test_settings_are_the_only_reader_of_the_environment():
    """No module of zhengding but config.py reads os.environ / os.getenv (or imports them): a
    variable read elsewhere escapes the start-up check and the test settings."""
    import ast

    import zhengding

    root = Path(zhengding.__file__).parent
    found = []
    for path in sorted(root.rglob("*.py")):
        if path == root / "config.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            name = None
            if isinstance(node, ast.Attribute) and node.attr in {"environ", "environb", "getenv", "getenvb"}:
                name = node.attr
            elif isinstance(node, ast.ImportFrom) and node.module == "os":
                name = next((a.name for a in node.names if a.name in {"environ", "getenv"}), None)
            if name:
                found.append(f"{path.relative_to(root)}:{node.lineno} {name}")
    assert found == []
