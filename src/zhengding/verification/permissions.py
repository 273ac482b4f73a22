"""Permissions of the verification domain, added to the built-in roles at import."""

from __future__ import annotations

from zhengding.authz.roles import extend_role

READ = "verification.read"
IMPORT = "verification.import"
DISPATCH = "verification.dispatch"
REPLY = "verification.reply"
REVIEW = "verification.review"
TRANSFER = "verification.transfer"
STATS = "verification.stats"
EXPORT = "verification.export"
NAT_IMPORT = "verification.nat.import"

_COMMAND = (READ, DISPATCH, REVIEW, TRANSFER, STATS, EXPORT)
extend_role("province_command", *_COMMAND, IMPORT, NAT_IMPORT)
for _role in ("city_command", "county_command", "town_command"):
    extend_role(_role, *_COMMAND)
extend_role("village_staff", READ, DISPATCH, REPLY, REVIEW, TRANSFER, STATS)
extend_role("grid_worker", READ, REPLY, TRANSFER)
