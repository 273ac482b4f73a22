"""Browser tests: a real server (SQLite, demo seed) driven by Debian's chromium through Playwright.

The server runs in a subprocess on a free port with a temporary database, exactly as an operator
would start it (`zhengding db upgrade`, `zhengding demo seed`, `zhengding serve`). The web apps
are built with npm first when src/zhengding/web_dist is missing or older than web/.

Without /usr/bin/chromium the tests are skipped, unless ZD_REQUIRE_BROWSER=1.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pyotp
import pytest

from tests.helpers import stop_process

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
DIST = ROOT / "src" / "zhengding" / "web_dist"
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]
MOBILE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 900}


def _bin(name: str) -> str:
    venv = ROOT / ".venv" / "bin" / name
    if venv.exists():
        return str(venv)
    return str(Path(sys.executable).parent / name)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if CHROMIUM.exists():
        return
    reason = f"{CHROMIUM} is missing (apt-get install chromium fonts-wqy-microhei)"
    if os.environ.get("ZD_REQUIRE_BROWSER") == "1":
        return  # the browser fixture fails with the reason
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.skip(reason=reason))


# ---------------------------------------------------------------------------------------------
# web build


def _newest_source_mtime() -> float:
    newest = 0.0
    for part in ("shared", "console", "mobile"):
        for path in (WEB / part).rglob("*"):
            if path.is_file() and "node_modules" not in path.parts:
                newest = max(newest, path.stat().st_mtime)
    for name in ("package.json", "package-lock.json", "tsconfig.json"):
        if (WEB / name).exists():
            newest = max(newest, (WEB / name).stat().st_mtime)
    return newest


def _ensure_web_built() -> None:
    indexes = [DIST / "console" / "index.html", DIST / "mobile" / "index.html"]
    if all(p.exists() for p in indexes) and min(p.stat().st_mtime for p in indexes) >= _newest_source_mtime():
        return
    if not (WEB / "node_modules").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=WEB, check=True)
    subprocess.run(["npm", "run", "build"], cwd=WEB, check=True)


# ---------------------------------------------------------------------------------------------
# server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class DemoServer:
    base_url: str
    var_dir: Path
    password: str
    accounts: dict[str, dict]
    pending: list[dict]
    _used_pending: set[int] = field(default_factory=set)
    _used_totp: dict[str, str] = field(default_factory=dict)

    def api(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url + "/api", timeout=30)

    def totp(self, username: str) -> str:
        """A fresh code: a code already used is refused (replay), so wait for the next step."""
        secret = self.accounts[username]["totp_secret"]
        assert secret, f"{username} has no TOTP secret in the demo seed"
        totp = pyotp.TOTP(secret)
        code = totp.now()
        while code == self._used_totp.get(username):
            time.sleep(30 - time.time() % 30 + 0.2)
            code = totp.now()
        self._used_totp[username] = code
        return code

    def take_pending(self) -> dict:
        """A pending grid worker no other test has activated yet."""
        for i, p in enumerate(self.pending):
            if i not in self._used_pending:
                self._used_pending.add(i)
                return p
        raise AssertionError("the demo seed has no pending account left")

    def login_token(self, username: str) -> str:
        """A full API session for `username` (TOTP step included)."""
        with self.api() as c:
            r = c.post("/auth/login", json={"login": username, "password": self.password})
            r.raise_for_status()
            answer = r.json()
            token = answer["token"]
            if answer["mfa"] == "required":
                v = c.post(
                    "/auth/totp/verify",
                    json={"code": self.totp(username)},
                    headers={"Authorization": f"Bearer {token}"},
                )
                v.raise_for_status()
            return token

    def me(self, username: str) -> dict:
        """`me` of a persona, from the login answer (no TOTP code spent), then logged out."""
        with self.api() as c:
            r = c.post("/auth/login", json={"login": username, "password": self.password})
            r.raise_for_status()
            answer = r.json()
            c.post("/auth/logout", headers={"Authorization": f"Bearer {answer['token']}"})
            return answer["me"]


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    with demo_server(tmp_path_factory.mktemp("zd-browser")) as started:
        yield started


@contextmanager
def demo_server(var: Path, env_extra: dict[str, str] | None = None) -> Iterator[DemoServer]:
    """A server of its own on `var` (demo seed); `env_extra` overrides its settings (ZD_DEMO…)."""
    if not CHROMIUM.exists():
        pytest.fail(f"ZD_REQUIRE_BROWSER=1 but {CHROMIUM} is missing")
    _ensure_web_built()
    env = {
        **os.environ,
        "ZD_DATABASE_URL": f"sqlite+aiosqlite:///{var}/zd.db",
        "ZD_DEMO": "1",
        "ZD_VAR_DIR": str(var),
        **(env_extra or {}),
    }
    env.pop("ZD_REDIS_URL", None)
    cli = _bin("zhengding")
    subprocess.run([cli, "db", "upgrade"], env=env, check=True, cwd=ROOT, capture_output=True)
    seed = subprocess.run([cli, "demo", "seed"], env=env, cwd=ROOT, capture_output=True, text=True)
    assert seed.returncode == 0, f"demo seed failed:\n{seed.stdout}\n{seed.stderr}"
    port = _free_port()
    log = open(var / "server.log", "w")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(
        [cli, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"server exited:\n{(var / 'server.log').read_text()}")
            try:
                if httpx.get(base + "/api/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"server did not start:\n{(var / 'server.log').read_text()}")
            time.sleep(0.2)
        data = json.loads((var / "demo-accounts.json").read_text(encoding="utf-8"))
        yield DemoServer(
            base_url=base,
            var_dir=var,
            password=data["password"],
            accounts={a["username"]: a for a in data["accounts"]},
            pending=list(data.get("pending", [])),
        )
    finally:
        stop_process(proc, log)


# ---------------------------------------------------------------------------------------------
# browser


@pytest.fixture(scope="session")
def browser():  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


def _context(browser, server: DemoServer, viewport: dict, mobile: bool):  # type: ignore[no-untyped-def]
    ctx = browser.new_context(
        base_url=server.base_url,
        viewport=viewport,
        device_scale_factor=2 if mobile else 1,
        is_mobile=mobile,
        has_touch=mobile,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        accept_downloads=True,
        service_workers="allow" if mobile else "block",
    )
    ctx.set_default_timeout(15_000)
    return ctx


@pytest.fixture
def mobile_page(browser, server: DemoServer):  # type: ignore[no-untyped-def]
    ctx = _context(browser, server, MOBILE, mobile=True)
    page = ctx.new_page()
    yield page
    ctx.close()


@pytest.fixture
def console_page(browser, server: DemoServer):  # type: ignore[no-untyped-def]
    ctx = _context(browser, server, DESKTOP, mobile=False)
    page = ctx.new_page()
    yield page
    ctx.close()


def screenshot(page, name: str, full_page: bool = False) -> Path:  # type: ignore[no-untyped-def]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


PHONE_MASKED = re.compile(r"1\d{2}\*{4}\d{4}")


def mobile_login(
    page, server: DemoServer, login: str, password: str | None = None, totp_user: str | None = None
):  # type: ignore[no-untyped-def]
    """Sign in through the mobile login page and wait for the workbench."""
    page.goto("/m/#/login")
    page.locator("input[name=login]").fill(login)
    page.locator("input[name=password]").fill(password or server.password)
    page.get_by_role("button", name="登录").click()
    if totp_user:
        page.locator("input[name=totp]").fill(server.totp(totp_user))
        page.get_by_role("button", name="验证").click()
    page.wait_for_url(re.compile(r"/m/#/$"))
    page.get_by_text("待办事项").wait_for()


def console_login(page, server: DemoServer, username: str):  # type: ignore[no-untyped-def]
    """Sign in through the console login page (TOTP step for administrators)."""
    page.goto("/console/#/login")
    page.locator("input[name=login]").fill(username)
    page.locator("input[name=password]").fill(server.password)
    page.get_by_role("button", name="登录").click()
    if server.accounts[username].get("totp_secret"):
        page.locator("input[name=totp]").fill(server.totp(username))
        page.get_by_role("button", name="验证").click()
    page.wait_for_url(re.compile(r"/console/#/$"))
    page.locator("[data-testid=user-menu]").wait_for()


def watermark_text(page) -> str | None:  # type: ignore[no-untyped-def]
    return page.evaluate("() => document.getElementById('zd-watermark')?.dataset.watermark ?? null")
