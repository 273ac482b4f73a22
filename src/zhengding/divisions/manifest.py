"""The divisions domain (行政区划): the official division table and the address resolver."""

from __future__ import annotations

from zhengding.core.manifest import Manifest, Plug

manifest = Manifest(
    name="divisions",
    label="行政区划",
    models=("zhengding.divisions.models",),
    services=(Plug("zhengding.divisions.service:resolver_service", order=10),),
)
