"""The route → permission matrix: routes.toml, plus the `routes` a domain manifest declares
(zhengding.domains.install). A route missing from it cannot be served."""

from __future__ import annotations

import tomllib
from functools import lru_cache
from importlib import resources

PUBLIC = "public"
SPECIAL = {PUBLIC, "authenticated", "mfa_pending"}


_declared: dict[str, str] = {}


def declare_routes(entries: dict[str, str]) -> None:
    """Add a manifest's "METHOD /path" → permission entries; one already in the matrix with
    another value is refused (a domain cannot loosen a route it does not own)."""
    current = matrix()
    clash = {k: v for k, v in entries.items() if k in current and current[k] != v}
    if clash:
        raise ValueError(f"routes declared twice with different permissions: {clash}")
    _declared.update(entries)
    matrix.cache_clear()


@lru_cache(maxsize=1)
def matrix() -> dict[str, str]:
    text = resources.files("zhengding.authz").joinpath("routes.toml").read_text(encoding="utf-8")
    return {**tomllib.loads(text)["routes"], **_declared}


def permission_for(method: str, path: str) -> str:
    key = f"{'GET' if method == 'HEAD' else method} {path}"
    try:
        return matrix()[key]
    except KeyError:
        raise RuntimeError(f"route {key} is missing from authz/routes.toml") from None
