"""Security headers on every answer (API, errors, pages, static files), the API docs served by
the platform itself under that policy, and the docs' login rule outside demo mode.

The web apps must be built (`make web`; `make test` does it first): the pages and static files
checked here are the real ones."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest
from fastapi import FastAPI
from starlette.responses import PlainTextResponse

from zhengding import demo
from zhengding.app import create_app, web_dist

SCRIPT_TAG = re.compile(r"<script\b([^>]*)>(.*?)</script>", re.S | re.I)
ASSET_REF = re.compile(r"""(?:src|href)=["']([^"']+)["']""", re.I)


def policy(response: httpx.Response) -> dict[str, list[str]]:
    header = response.headers.get("content-security-policy")
    assert header, f"{response.request.url.path}: no Content-Security-Policy"
    directives: dict[str, list[str]] = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            assert words[0] not in directives, f"directive {words[0]} given twice"
            directives[words[0]] = words[1:]
    return directives


def assert_security_headers(response: httpx.Response) -> None:
    path = response.request.url.path
    csp = policy(response)
    assert csp["default-src"] == ["'self'"], path
    assert csp["script-src"] == ["'self'"], path  # no inline script, no eval, no other host
    assert csp["object-src"] == ["'none'"], path
    assert csp["frame-ancestors"] == ["'none'"], path
    assert csp["base-uri"] == ["'self'"], path
    assert csp["form-action"] == ["'self'"], path
    assert csp["connect-src"] == ["'self'"], path
    assert csp["img-src"] == ["'self'", "data:", "blob:"], path
    for directive, sources in csp.items():
        assert "'unsafe-eval'" not in sources, f"{path}: {directive} allows eval"
        if directive != "style-src":
            assert "'unsafe-inline'" not in sources, f"{path}: {directive} allows inline code"
    assert response.headers.get_list("x-content-type-options") == ["nosniff"], path
    assert response.headers.get_list("referrer-policy") == ["same-origin"], path
    assert "server" not in response.headers, f"{path}: server banner {response.headers.get('server')}"


def _plain_client(app: FastAPI) -> httpx.AsyncClient:
    # no PII hook and no raising: the 500 answer itself is what is looked at
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50001), raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@pytest.fixture(scope="module")
def built() -> None:
    for app_name in ("console", "mobile"):
        index = web_dist() / app_name / "index.html"
        assert index.exists(), f"{index} is missing: build the web apps first (make web)"


def _first_asset(app_dir: str, suffix: str) -> str:
    found = sorted((web_dist() / app_dir / "assets").glob(f"*{suffix}"))
    assert found, f"no {suffix} asset in web_dist/{app_dir}/assets"
    return found[0].name


class TestEveryAnswerCarriesTheHeaders:
    @pytest.mark.parametrize(
        "method,path,status",
        [
            ("GET", "/api/health", 200),
            ("GET", "/api/auth/me", 401),
            ("GET", "/api/no-such-endpoint", 404),
            ("DELETE", "/api/health", 405),
            ("GET", "/", 307),
            ("GET", "/console/", 200),
            ("GET", "/console/a/deep/link", 200),
            ("GET", "/console/icon.svg", 200),
            ("GET", "/m/", 200),
            ("GET", "/m/sw.js", 200),
            ("GET", "/m/manifest.webmanifest", 200),
            ("GET", "/nothing-here", 404),
        ],
    )
    async def test_api_pages_and_static_files(self, client, db, built, method, path, status):
        r = await client.request(method, path)
        assert r.status_code == status, r.text[:200]
        assert_security_headers(r)

    async def test_hashed_assets(self, client, db, built):
        for app_dir, prefix in (("console", "/console"), ("mobile", "/m")):
            for suffix in (".js", ".css"):
                r = await client.get(f"{prefix}/assets/{_first_asset(app_dir, suffix)}")
                assert r.status_code == 200
                assert_security_headers(r)
            r = await client.get(f"{prefix}/assets/no-such-file.js")
            assert r.status_code == 404
            assert_security_headers(r)

    async def test_validation_error_and_too_large_body(self, client, db):
        r = await client.post("/api/auth/login", json={"login": 1})
        assert r.status_code == 422
        assert_security_headers(r)
        r = await client.post(
            "/api/auth/login", content=b"x" * (2 * 1_048_576), headers={"content-type": "application/json"}
        )
        assert r.status_code == 413
        assert_security_headers(r)

    async def test_unexpected_server_error(self, settings, db):
        app = create_app(settings, manage_db=False)

        async def boom() -> None:
            raise RuntimeError("broken on purpose")

        app.add_api_route("/api/test-boom", boom)
        async with _plain_client(app) as c:
            r = await c.get("/api/test-boom")
        assert r.status_code == 500
        assert r.json()["error"]["code"] == "internal_error"
        assert_security_headers(r)

    async def test_a_header_the_endpoint_set_is_not_doubled(self, settings, db):
        app = create_app(settings, manage_db=False)

        async def own() -> PlainTextResponse:
            return PlainTextResponse(
                "x", headers={"X-Content-Type-Options": "nosniff", "Server": "leaky/1.0"}
            )

        app.add_api_route("/api/test-own-headers", own)
        async with _plain_client(app) as c:
            r = await c.get("/api/test-own-headers")
        assert r.status_code == 200
        assert_security_headers(r)


class TestBuiltPagesFitThePolicy:
    """What the policy would block (and report) must not be in the build: inline scripts in the
    page shells, stylesheets loading from another host (Vant's icon font had a CDN fallback)."""

    def test_no_inline_script_in_the_page_shells(self, built):
        pages = [
            web_dist() / "console" / "index.html",
            web_dist() / "mobile" / "index.html",
            web_dist() / "console" / "api-docs" / "index.html",
        ]
        for page in pages:
            scripts = SCRIPT_TAG.findall(page.read_text(encoding="utf-8"))
            assert scripts, page
            for attributes, body in scripts:
                assert "src=" in attributes and not body.strip(), f"{page}: inline script"

    def test_no_stylesheet_loads_from_another_host(self, built):
        remote = re.compile(r"url\(\s*[\"']?(?:https?:)?//", re.I)
        folders = [
            web_dist() / "console" / "assets",
            web_dist() / "mobile" / "assets",
            web_dist() / "console" / "api-docs",
        ]
        for folder in folders:
            assert list(folder.glob("*.css")), f"no stylesheet in {folder}"
        for sheet in web_dist().rglob("*.css"):
            match = remote.search(sheet.read_text(encoding="utf-8"))
            assert match is None, (
                f"{sheet.name}: {sheet.read_text(encoding='utf-8')[match.start() : match.start() + 80]}"
            )


class TestApiDocs:
    async def test_docs_page_runs_only_local_external_scripts(self, client, db, built):
        r = await client.get("/api/docs", follow_redirects=True)
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/html")
        assert_security_headers(r)
        page = r.text
        scripts = SCRIPT_TAG.findall(page)
        assert len(scripts) == 2, "the Swagger UI bundle and the page's own init script"
        for attributes, body in scripts:
            assert "src=" in attributes and not body.strip(), f"inline script in the docs page: {attributes}"
        refs = ASSET_REF.findall(page)
        assert refs
        for ref in refs:
            assert not re.match(r"^(https?:)?//", ref), f"the docs page loads {ref} from another host"
            asset = await client.get(str(httpx.URL(str(r.url)).join(ref)))
            assert asset.status_code == 200, ref
            assert_security_headers(asset)
        kinds = {ref.rsplit(".", 1)[-1] for ref in refs}
        assert {"js", "css"} <= kinds

    async def test_demo_schema_is_open(self, client, db):
        r = await client.get("/api/openapi.json")
        assert r.status_code == 200
        assert_security_headers(r)
        schema = r.json()
        assert "/api/health" in schema["paths"]
        assert "/api/openapi.json" not in schema["paths"]

    async def test_fastapi_builtin_docs_are_gone(self, client, db):
        for path in ("/docs/oauth2-redirect", "/docs", "/redoc"):
            r = await client.get(path)
            assert r.status_code == 404, path


@pytest.fixture(scope="module")
async def production_client(settings, db) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(replace(settings, demo=False), manage_db=False)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50002))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


class TestApiDocsOutsideDemo:
    async def test_schema_needs_a_login(self, production_client):
        r = await production_client.get("/api/openapi.json")
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "unauthenticated"
        assert_security_headers(r)
        r = await production_client.get("/api/openapi.json", headers={"Authorization": "Bearer forged"})
        assert r.status_code == 401

    async def test_schema_for_a_signed_in_user(self, production_client, personas):
        r = await production_client.get("/api/openapi.json", headers=personas.grid1.headers)
        assert r.status_code == 200
        assert "/api/auth/login" in r.json()["paths"]

    async def test_schema_refused_while_the_totp_step_is_pending(self, production_client, personas, clock):
        r = await production_client.post(
            "/api/auth/login", json={"login": "sysadmin", "password": demo.DEMO_PASSWORD}
        )
        assert r.status_code == 200
        assert r.json()["mfa"] == "required"
        pending = {"Authorization": f"Bearer {r.json()['token']}"}
        r = await production_client.get("/api/openapi.json", headers=pending)
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "mfa_required"

    async def test_docs_page_itself_holds_no_data_and_loads(self, production_client, built):
        # the page is reachable; its script fetches the schema with the console's token or
        # sends the visitor to the console login (tests/browser/test_hostile_names.py)
        r = await production_client.get("/api/docs/")
        assert r.status_code == 200
        assert "/api/auth/login" not in r.text
