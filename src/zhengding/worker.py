"""`python -m zhengding.worker` (= `zhengding worker`): a composition root like app.py and
cli.py. The worker runs the handlers and schedules of the same manifests as the app."""

from __future__ import annotations

from zhengding import domains
from zhengding.notify.worker_main import main

domains.install(domains.MANIFESTS)

if __name__ == "__main__":
    main()
