"""Returnees (返乡人员): arrival registrations pushed by the health-code system, routed to
villages, enrolled, monitored, and linked to nucleic-acid results."""

from __future__ import annotations

from datetime import timedelta

from zhengding.core.manifest import App, Handler, Manifest, Permission, Plug, Schedule, Todo

_P = "returnees."
_COMMAND = tuple(_P + p for p in ("read", "route", "anomaly.resolve", "stats", "export"))
_WB = "zhengding.returnees.workbench"

manifest = Manifest(
    name="returnees",
    label="返乡人员",
    routers=(
        Plug("zhengding.returnees.inbound_router:router", order=10),
        Plug("zhengding.returnees.router:router", order=43),
    ),
    models=("zhengding.returnees.models", "zhengding.returnees.models_nat"),
    permissions=(
        Permission("returnees.read", "查看返乡人员"),
        Permission("returnees.handle", "签收与健康监测"),
        Permission("returnees.route", "分派返乡人员"),
        Permission("returnees.anomaly.resolve", "处置异常状况"),
        Permission("returnees.stats", "查看返乡统计"),
        Permission("returnees.export", "导出返乡人员"),
    ),
    roles={
        "province_command": _COMMAND,
        "city_command": _COMMAND,
        "county_command": _COMMAND,
        "town_command": _COMMAND,
        "village_staff": tuple(_P + p for p in ("read", "handle", "anomaly.resolve", "stats", "export")),
        "grid_worker": ("returnees.read", "returnees.handle"),
    },
    handlers=(
        Handler("returnees.overdue.sweep", "zhengding.returnees.jobs:sweep"),
        Handler("returnees.nonces.prune", "zhengding.returnees.jobs:prune"),
    ),
    schedules=(
        Schedule("returnees.overdue.sweep", every=timedelta(minutes=5)),
        Schedule("returnees.nonces.prune", every=timedelta(minutes=10)),
    ),
    apps=(
        App("returnees", "返乡人员", "location", "/returnees", "returnees.read"),
        App("returnees-stats", "返乡统计", "chart", "/returnees/stats", "returnees.stats"),
    ),
    todos=(
        Todo(
            "returnees.acknowledge",
            "返乡人员待签收",
            "/returnees",
            "returnees.handle",
            f"{_WB}:to_acknowledge",
        ),
        Todo("returnees.route", "返乡人员待分派", "/returnees/routing", "returnees.route", f"{_WB}:to_route"),
    ),
    revealers={"returnee": "zhengding.returnees.service.access:reveal_field"},
    nat_listeners=("zhengding.returnees.nat_link:link_nat_result",),
    cli="zhengding.returnees.cli:register",
    event_types=(
        "returnees.returnee.queued",
        "returnees.returnee.dispatched",
        "returnees.returnee.dequeued",
        "returnees.returnee.updated",
        "returnees.returnee.escalated",
        "returnees.returnee.withdrawn",
        "returnees.anomaly.reported",
        "returnees.anomaly.resolved",
        "returnees.nat.positive",
        "returnees.stats.changed",
    ),
    path_columns="zhengding.returnees.models:path_columns",
)
