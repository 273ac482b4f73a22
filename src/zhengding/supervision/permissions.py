"""Permissions of the supervision domain (the roles holding them: the manifest).

- "supervision.assign": create supervised items, urge, review reports, see the assigner's board
  and statistics over the role's subtree, manage unit leaders — command staff.
- "supervision.work": see one's own to-dos and report progress — every staff role. What an owner
  sees is decided by participation (owner, acting for an owner unit, copied), not by a subtree.
"""

from __future__ import annotations

ASSIGN = "supervision.assign"
WORK = "supervision.work"
