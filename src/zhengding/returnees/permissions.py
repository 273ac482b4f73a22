"""Permissions of the returnee domain, added to the built-in roles at import."""

from __future__ import annotations

from zhengding.authz.roles import extend_role

READ = "returnees.read"  # lists and details (masked) in the role's subtree
HANDLE = "returnees.handle"  # acknowledge, enrol, check in, report anomalies, release
ROUTE = "returnees.route"  # manual routing queue, reassignment to another village
RESOLVE_ANOMALY = "returnees.anomaly.resolve"
STATS = "returnees.stats"
EXPORT = "returnees.export"  # the list as a watermarked xlsx (masked), in the role's subtree

for _role in ("province_command", "city_command", "county_command", "town_command"):
    extend_role(_role, READ, ROUTE, RESOLVE_ANOMALY, STATS, EXPORT)
extend_role("village_staff", READ, HANDLE, RESOLVE_ANOMALY, STATS, EXPORT)
extend_role("grid_worker", READ, HANDLE)
