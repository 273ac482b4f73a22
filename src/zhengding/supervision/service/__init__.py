"""Supervision use-cases, split by stage: items (assign, split), progress (report, review,
urge), reminders (before the deadline, overdue escalation), recurring (instances per period),
boards (assigner's board, to-dos, statistics, unit leaders)."""
