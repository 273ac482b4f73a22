"""Key-person verification (重点人员核查): batches, tasks dispatched down the tree, replies,
transfers, nucleic-acid results."""

from __future__ import annotations

from datetime import timedelta

from zhengding.core.manifest import App, Handler, Manifest, Permission, Plug, Schedule, Todo

_P = "verification."
_COMMAND = tuple(_P + p for p in ("read", "dispatch", "review", "transfer", "stats", "export"))
_WB = "zhengding.verification.workbench"

manifest = Manifest(
    name="verification",
    label="重点人员核查",
    routers=(
        Plug("zhengding.verification.inbound_router:router", order=11),
        Plug("zhengding.verification.router:router", order=40),
    ),
    models=("zhengding.verification.models",),
    permissions=(
        Permission("verification.read", "查看核查任务"),
        Permission("verification.import", "导入核查批次"),
        Permission("verification.dispatch", "派发核查任务"),
        Permission("verification.reply", "回单"),
        Permission("verification.review", "审核回单"),
        Permission("verification.transfer", "转办"),
        Permission("verification.stats", "查看核查统计"),
        Permission("verification.export", "导出核查任务"),
        Permission("verification.nat.import", "导入核酸检测结果"),
    ),
    roles={
        "province_command": (*_COMMAND, "verification.import", "verification.nat.import"),
        "city_command": _COMMAND,
        "county_command": _COMMAND,
        "town_command": _COMMAND,
        "village_staff": tuple(_P + p for p in ("read", "dispatch", "reply", "review", "transfer", "stats")),
        "grid_worker": ("verification.read", "verification.reply", "verification.transfer"),
    },
    handlers=(Handler("verification.overdue.mark", "zhengding.verification.jobs:overdue_job"),),
    schedules=(Schedule("verification.overdue.mark", every=timedelta(minutes=1)),),
    apps=(App("verification", "重点人员核查", "search", "/verification", "verification.read"),),
    todos=(
        Todo("verification.mine", "待核查任务", "/verification", "verification.reply", f"{_WB}:my_tasks"),
        Todo(
            "verification.review",
            "待审核回单",
            "/verification/review",
            "verification.review",
            f"{_WB}:reviews",
        ),
        Todo(
            "verification.transfers",
            "待接收转办",
            "/verification/transfers",
            "verification.transfer",
            f"{_WB}:transfers",
        ),
    ),
    revealers={"verification_task": "zhengding.verification.service.tasks:reveal_field"},
    cli="zhengding.verification.cli:register",
    event_types=(
        "verification.tasks.received",
        "verification.task.dispatched",
        "verification.task.assigned",
        "verification.task.closed",
        "verification.reply.submitted",
        "verification.reply.returned",
        "verification.transfer.requested",
        "verification.transfer.accepted",
        "verification.transfer.rejected",
        "verification.nat.positive",
        "verification.import.progress",
    ),
    path_columns="zhengding.verification.models:path_columns",
    move_followers=("zhengding.verification.service.moves:follow_unit_move",),
)
