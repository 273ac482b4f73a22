"""Permissions of the returnee domain (the roles holding them: the manifest)."""

from __future__ import annotations

READ = "returnees.read"  # lists and details (masked) in the role's subtree
HANDLE = "returnees.handle"  # acknowledge, enrol, check in, report anomalies, release
ROUTE = "returnees.route"  # manual routing queue, reassignment to another village
RESOLVE_ANOMALY = "returnees.anomaly.resolve"
STATS = "returnees.stats"
EXPORT = "returnees.export"  # the list as a watermarked xlsx (masked), in the role's subtree
