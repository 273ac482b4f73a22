"""The domain manifests (zhengding/domains.py): the app built from them serves exactly the
routes of before the manifests, in the same order; every role holds the same permissions
whatever is imported first; a toy domain plugs in with one manifest line."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette.routing import WebSocketRoute

from zhengding import domains
from zhengding.app import create_app
from zhengding.authz.roles import PERMISSION_LABELS, ROLES
from zhengding.core import jobs, outbox
from zhengding.workbench import service as workbench

ROOT = Path(__file__).resolve().parents[2]

# Captured from create_app() before the manifests replaced app.ROUTERS (commit 6ef192f):
# method and path of every route the domain routers bring, in the order a request is matched
# against them (the API docs and the web apps, mounted by app.py itself, left out: they depend
# on the built web assets).
ROUTES_BEFORE = [
    "GET /api/health",
    "POST /api/inbound/registrations",
    "POST /api/inbound/registrations/batch",
    "POST /api/inbound/nat-results",
    "POST /api/auth/login",
    "POST /api/auth/totp/verify",
    "POST /api/auth/totp/setup",
    "POST /api/auth/totp/confirm",
    "POST /api/auth/logout",
    "GET /api/auth/me",
    "POST /api/auth/password",
    "POST /api/accounts/activate",
    "GET /api/accounts",
    "POST /api/accounts",
    "GET /api/accounts/{user_id}",
    "POST /api/accounts/{user_id}/disable",
    "POST /api/accounts/{user_id}/enable",
    "POST /api/accounts/{user_id}/reset-activation",
    "GET /api/roles",
    "POST /api/accounts/{user_id}/roles",
    "DELETE /api/accounts/{user_id}/roles/{assignment_id}",
    "POST /api/accounts/import",
    "GET /api/accounts/import/{import_id}/report",
    "POST /api/orgs/{unit_id}/activation-codes",
    "GET /api/orgs/{unit_id}/activation-codes",
    "GET /api/stats/activation",
    "GET /api/orgs/roots",
    "GET /api/orgs/{unit_id}",
    "GET /api/orgs/{unit_id}/children",
    "GET /api/orgs/{unit_id}/members",
    "POST /api/orgs",
    "PATCH /api/orgs/{unit_id}",
    "POST /api/orgs/{unit_id}/move",
    "GET /api/directory/search",
    "GET /api/people/{user_id}",
    "GET /api/audit",
    "POST /api/audit/verify",
    "POST /api/privacy/reveal",
    "POST /api/downloads/log",
    "GET /api/workbench",
    "GET /api/notifications",
    "GET /api/notifications/unread-count",
    "POST /api/notifications/{notification_id}/read",
    "POST /api/notifications/read",
    "POST /api/notifications/read-all",
    "POST /api/ding",
    "GET /api/ding/sent",
    "GET /api/ding/received",
    "GET /api/ding/{ding_id}",
    "POST /api/ding/{ding_id}/confirm",
    "POST /api/ding/{ding_id}/remind",
    "GET /api/outbox",
    "POST /api/outbox/{row_id}/retry",
    "GET /api/sms",
    "GET /api/realtime/presence",
    "WEBSOCKET /ws",
    "POST /api/verification/imports",
    "GET /api/verification/batches",
    "POST /api/verification/batches/{batch_id}/deadline",
    "GET /api/verification/batches/{batch_id}/report",
    "GET /api/verification/tasks",
    "GET /api/verification/tasks/export",
    "POST /api/verification/tasks/dispatch",
    "GET /api/verification/units/{unit_id}/assignees",
    "GET /api/verification/tasks/{task_id}",
    "POST /api/verification/tasks/{task_id}/reply",
    "POST /api/verification/tasks/{task_id}/photos",
    "GET /api/verification/photos/{photo_id}",
    "POST /api/verification/tasks/{task_id}/review",
    "POST /api/verification/tasks/{task_id}/transfer",
    "GET /api/verification/transfer-targets",
    "GET /api/verification/transfers",
    "POST /api/verification/transfers/{transfer_id}/accept",
    "POST /api/verification/transfers/{transfer_id}/reject",
    "GET /api/verification/stats",
    "GET /api/verification/stats/batches",
    "GET /api/verification/stats/daily",
    "GET /api/verification/stats/export",
    "POST /api/verification/nat-results/import",
    "GET /api/verification/nat-results/imports/{import_id}/report",
    "POST /api/files",
    "GET /api/files/{file_id}",
    "POST /api/supervision/items",
    "GET /api/supervision/items",
    "GET /api/supervision/todos",
    "GET /api/supervision/stats",
    "GET /api/supervision/items/{item_id}",
    "POST /api/supervision/items/{item_id}/split",
    "POST /api/supervision/items/{item_id}/progress",
    "POST /api/supervision/items/{item_id}/review",
    "POST /api/supervision/items/{item_id}/urge",
    "POST /api/supervision/items/{item_id}/deadline",
    "POST /api/supervision/items/{item_id}/cancel",
    "POST /api/supervision/items/{item_id}/stop",
    "GET /api/supervision/leaders",
    "POST /api/supervision/leaders",
    "DELETE /api/supervision/leaders/{unit_id}/{user_id}",
    "GET /api/returnees",
    "GET /api/returnees/export",
    "GET /api/returnees/routing-queue",
    "GET /api/returnees/stats",
    "GET /api/returnees/anomalies",
    "POST /api/returnees/anomalies/{anomaly_id}/resolve",
    "GET /api/returnees/{returnee_id}",
    "POST /api/returnees/{returnee_id}/acknowledge",
    "POST /api/returnees/{returnee_id}/enrol",
    "POST /api/returnees/{returnee_id}/check-ins",
    "POST /api/returnees/{returnee_id}/anomalies",
    "POST /api/returnees/{returnee_id}/release",
    "POST /api/returnees/{returnee_id}/route",
    "POST /api/returnees/{returnee_id}/reassign",
]

# Every built-in role's permissions before the manifests, with every domain imported.
ROLES_BEFORE = {
    "audit_admin": {"audit.read", "audit.verify"},
    "city_command": {
        "accounts.read",
        "activation.export",
        "activation.stats",
        "directory.read",
        "notify.ding.send",
        "personal_data.reveal",
        "returnees.anomaly.resolve",
        "returnees.export",
        "returnees.read",
        "returnees.route",
        "returnees.stats",
        "supervision.assign",
        "supervision.work",
        "verification.dispatch",
        "verification.export",
        "verification.read",
        "verification.review",
        "verification.stats",
        "verification.transfer",
    },
    "county_command": {
        "accounts.read",
        "activation.export",
        "activation.stats",
        "directory.read",
        "notify.ding.send",
        "personal_data.reveal",
        "returnees.anomaly.resolve",
        "returnees.export",
        "returnees.read",
        "returnees.route",
        "returnees.stats",
        "supervision.assign",
        "supervision.work",
        "verification.dispatch",
        "verification.export",
        "verification.read",
        "verification.review",
        "verification.stats",
        "verification.transfer",
    },
    "grid_worker": {
        "directory.read",
        "personal_data.reveal",
        "returnees.handle",
        "returnees.read",
        "supervision.work",
        "verification.read",
        "verification.reply",
        "verification.transfer",
    },
    "province_command": {
        "accounts.read",
        "activation.export",
        "activation.stats",
        "directory.read",
        "notify.ding.send",
        "personal_data.reveal",
        "returnees.anomaly.resolve",
        "returnees.export",
        "returnees.read",
        "returnees.route",
        "returnees.stats",
        "supervision.assign",
        "supervision.work",
        "verification.dispatch",
        "verification.export",
        "verification.import",
        "verification.nat.import",
        "verification.read",
        "verification.review",
        "verification.stats",
        "verification.transfer",
    },
    "security_admin": {"accounts.read", "directory.read", "roles.assign", "sessions.manage"},
    "system_admin": {
        "accounts.import",
        "accounts.manage",
        "accounts.read",
        "activation.export",
        "activation.stats",
        "directory.read",
        "orgs.manage",
        "outbox.manage",
        "outbox.read",
        "sms.read",
    },
    "town_command": {
        "accounts.read",
        "activation.export",
        "activation.stats",
        "directory.read",
        "notify.ding.send",
        "personal_data.reveal",
        "returnees.anomaly.resolve",
        "returnees.export",
        "returnees.read",
        "returnees.route",
        "returnees.stats",
        "supervision.assign",
        "supervision.work",
        "verification.dispatch",
        "verification.export",
        "verification.read",
        "verification.review",
        "verification.stats",
        "verification.transfer",
    },
    "village_staff": {
        "activation.stats",
        "directory.read",
        "notify.ding.send",
        "personal_data.reveal",
        "returnees.anomaly.resolve",
        "returnees.export",
        "returnees.handle",
        "returnees.read",
        "returnees.stats",
        "supervision.work",
        "verification.dispatch",
        "verification.read",
        "verification.reply",
        "verification.review",
        "verification.stats",
        "verification.transfer",
    },
}

HANDLERS_BEFORE = {
    "notify.deliver",
    "notify.notification.escalate",
    "notify.sms.send",
    "notify.sms.poll_status",
    "notify.ding.escalate",
    "returnees.overdue.sweep",
    "returnees.nonces.prune",
    "supervision.sweep",
    "verification.overdue.mark",
}
SCHEDULES_BEFORE = {
    "notify.sms.poll_status": 60,
    "verification.overdue.mark": 60,
    "supervision.sweep": 60,
    "returnees.overdue.sweep": 300,
    "returnees.nonces.prune": 600,
}


def _walk(router: APIRouter, prefix: str = "") -> list[str]:
    found: list[str] = []
    for route in router.routes:
        if isinstance(route, APIRoute):
            found += [f"{method} {prefix + route.path}" for method in sorted(route.methods - {"HEAD"})]
        elif isinstance(route, WebSocketRoute):
            found.append(f"WEBSOCKET {prefix + route.path}")
        elif hasattr(route, "original_router"):  # a router included in this router (FastAPI wraps it)
            found += _walk(route.original_router, prefix + route.include_context.prefix)
    return found


def _api_routes(app: Any) -> list[str]:
    return [r for r in _walk(app.router) if not _NOT_FROM_ROUTERS.match(r)]


_NOT_FROM_ROUTERS = re.compile(r"GET (/|/console.*|/m|/m/.*|/api/docs.*|/api/openapi\.json)$")


def _python(code: str) -> str:
    """Run `code` in a fresh interpreter (nothing of zhengding imported yet); its stdout."""
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


class TestTheAppFromTheManifests:
    def test_serves_exactly_the_routes_of_before_in_the_same_order(self):
        assert _api_routes(create_app()) == ROUTES_BEFORE

    def test_machine_to_machine_routers_come_first(self):
        assert domains.router_refs()[:3] == [
            "zhengding.http.health:router",
            "zhengding.returnees.inbound_router:router",
            "zhengding.verification.inbound_router:router",
        ]

    def test_one_manifest_per_package_each_installed_once(self):
        names = [m.name for m in domains.MANIFESTS]
        assert len(names) == len(set(names))
        assert [m.name for m in domains.installed()] == names

    def test_workers_know_every_handler_and_schedule(self):
        assert set(outbox.registered_handlers()) >= HANDLERS_BEFORE
        schedules = {name: int(s.every.total_seconds()) for name, s in jobs.schedules().items()}
        assert {name: schedules.get(name) for name in SCHEDULES_BEFORE} == SCHEDULES_BEFORE

    def test_workbench_tiles_and_todos_in_manifest_order(self):
        assert [a.key for a in workbench.APPS] == [
            "directory",
            "activation",
            "accounts",
            "audit",
            "verification",
            "supervision",
            "returnees",
            "returnees-stats",
        ]
        assert [t.key for t in workbench.TODOS] == [
            "pending_activation",
            "verification.mine",
            "verification.review",
            "verification.transfers",
            "supervision_open",
            "returnees.acknowledge",
            "returnees.route",
        ]

    def test_every_permission_a_role_holds_is_declared_with_a_label(self):
        held = set().union(*(role.permissions for role in ROLES.values()))
        unlabelled = sorted(p for p in held if not PERMISSION_LABELS.get(p))
        assert not unlabelled


_ROLES_JSON = (
    "import json\n"
    "from zhengding.authz.roles import ROLES\n"
    "print(json.dumps({n: sorted(r.permissions) for n, r in ROLES.items()}))\n"
)


class TestRolesDoNotDependOnImportOrder:
    def test_roles_module_alone_then_the_manifests(self):
        out = _python(
            "import zhengding.authz.roles\n"
            "from zhengding import domains\n"
            "domains.install(domains.MANIFESTS)\n" + _ROLES_JSON
        )
        assert {k: set(v) for k, v in json.loads(out).items()} == ROLES_BEFORE

    def test_domain_modules_first_then_the_manifests(self):
        out = _python(
            "import zhengding.supervision.workbench, zhengding.returnees.router, zhengding.notify.jobs\n"
            "from zhengding import domains\n"
            "domains.install(domains.MANIFESTS)\n" + _ROLES_JSON
        )
        assert {k: set(v) for k, v in json.loads(out).items()} == ROLES_BEFORE

    def test_a_domain_module_alone_extends_no_role(self):
        out = _python("import zhengding.verification.router, zhengding.returnees.jobs\n" + _ROLES_JSON)
        assert "verification.read" not in json.loads(out)["grid_worker"]

    def test_in_this_test_process(self):
        assert {name: set(role.permissions) for name, role in ROLES.items()} == ROLES_BEFORE


_TOY = """
import json
from typer.testing import CliRunner
from zhengding import domains
from tests.core.toy_domain.manifest import manifest as toy

domains.install(domains.MANIFESTS + [toy])

from zhengding import cli
from zhengding.app import create_app
from zhengding.authz.matrix import permission_for
from zhengding.authz.roles import PERMISSION_LABELS, ROLES
from zhengding.workbench.service import APPS
from tests.core.test_manifests import _api_routes

run = CliRunner().invoke(cli.app, ["toy-hello"])
print(json.dumps({
    "routes": _api_routes(create_app()),
    "matrix": permission_for("GET", "/api/toy/ping"),
    "label": PERMISSION_LABELS.get("toy.play"),
    "grid_worker": "toy.play" in ROLES["grid_worker"].permissions,
    "town_command": "toy.play" in ROLES["town_command"].permissions,
    "apps": [a.key for a in APPS],
    "cli": [run.exit_code, run.output],
}))
"""


def test_a_toy_domain_plugs_in_with_one_manifest_line():
    got = json.loads(_python(_TOY))
    assert set(got["routes"]) == set(ROUTES_BEFORE) | {"GET /api/toy/ping"}
    assert got["matrix"] == "toy.play" and got["label"] == "玩"
    assert got["grid_worker"] is True and got["town_command"] is False
    assert got["apps"][-1] == "toy"
    assert got["cli"] == [0, "toy says hello\n"]


def test_without_its_manifest_line_the_toy_domain_is_absent():
    assert "GET /api/toy/ping" not in _api_routes(create_app())
    assert "toy" not in [a.key for a in workbench.APPS]
