"""Supervision (督办): leader-assigned items followed to completion, reminders, boards."""

from __future__ import annotations

from datetime import timedelta

from zhengding.core.manifest import App, Handler, Manifest, Permission, Plug, Schedule, Todo

_COMMAND = ("province_command", "city_command", "county_command", "town_command")

manifest = Manifest(
    name="supervision",
    label="督办",
    routers=(Plug("zhengding.supervision.router:router", order=42),),
    models=("zhengding.supervision.models",),
    permissions=(
        Permission("supervision.assign", "交办与督办"),
        Permission("supervision.work", "办理督办事项"),
    ),
    roles={
        **{role: ("supervision.assign", "supervision.work") for role in _COMMAND},
        "village_staff": ("supervision.work",),
        "grid_worker": ("supervision.work",),
    },
    handlers=(Handler("supervision.sweep", "zhengding.supervision.jobs:sweep"),),
    schedules=(Schedule("supervision.sweep", every=timedelta(minutes=1)),),
    apps=(App("supervision", "督办", "supervision", "/supervision", "supervision.work"),),
    todos=(
        Todo(
            "supervision_open",
            "待办督办事项",
            "/supervision",
            "supervision.work",
            "zhengding.supervision.workbench:open_items",
        ),
    ),
    file_owners={"supervision.item": "zhengding.supervision.workbench:may_see_item"},
    event_types=(
        "supervision.item.assigned",
        "supervision.item.urged",
        "supervision.item.overdue",
        "supervision.item.deadline_changed",
        "supervision.item.stopped",
        "supervision.item.cancelled",
        "supervision.item.closed",
        "supervision.owner.reported",
        "supervision.owner.reviewed",
    ),
    path_columns="zhengding.supervision.models:path_columns",
)
