"""The platform's own pieces: the health check, attachments (router and model) and the outbox
(model and worker), installed like any domain (zhengding/domains.py)."""

from __future__ import annotations

from zhengding.core.manifest import Manifest, Plug

manifest = Manifest(
    name="platform",
    label="平台",
    routers=(
        Plug("zhengding.http.health:router", order=0),
        Plug("zhengding.http.files:router", order=41),
    ),
    models=("zhengding.core.files", "zhengding.core.outbox"),
    # The worker loop starts after the resolver and the realtime publisher are up.
    services=(Plug("zhengding.core.outbox:worker_service", order=30),),
)
