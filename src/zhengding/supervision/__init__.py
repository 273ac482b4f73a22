"""Supervision (督办): leaders' assigned work items followed to completion."""
