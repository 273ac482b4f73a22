"""Permissions of the supervision domain, added to the built-in roles at import.

- "supervision.assign": create supervised items, urge, review reports, see the assigner's board
  and statistics over the role's subtree, manage unit leaders — command staff.
- "supervision.work": see one's own to-dos and report progress — every staff role. What an owner
  sees is decided by participation (owner, acting for an owner unit, copied), not by a subtree.
"""

from __future__ import annotations

from zhengding.authz.roles import extend_role

ASSIGN = "supervision.assign"
WORK = "supervision.work"

COMMAND_ROLES = ("province_command", "city_command", "county_command", "town_command")

for _role in COMMAND_ROLES:
    extend_role(_role, ASSIGN, WORK)
for _role in ("village_staff", "grid_worker"):
    extend_role(_role, WORK)
