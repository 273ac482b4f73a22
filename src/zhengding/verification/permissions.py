"""Permissions of the verification domain (the roles holding them: the manifest)."""

from __future__ import annotations

READ = "verification.read"
IMPORT = "verification.import"
DISPATCH = "verification.dispatch"
REPLY = "verification.reply"
REVIEW = "verification.review"
TRANSFER = "verification.transfer"
STATS = "verification.stats"
EXPORT = "verification.export"
NAT_IMPORT = "verification.nat.import"
