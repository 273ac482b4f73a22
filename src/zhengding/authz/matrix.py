"""The route → permission matrix (routes.toml). A route missing from it cannot be served."""

from __future__ import annotations

import tomllib
from functools import lru_cache
from importlib import resources

PUBLIC = "public"
SPECIAL = {PUBLIC, "authenticated", "mfa_pending"}


@lru_cache(maxsize=1)
def matrix() -> dict[str, str]:
    text = resources.files("zhengding.authz").joinpath("routes.toml").read_text(encoding="utf-8")
    return dict(tomllib.loads(text)["routes"])


def permission_for(method: str, path: str) -> str:
    key = f"{'GET' if method == 'HEAD' else method} {path}"
    try:
        return matrix()[key]
    except KeyError:
        raise RuntimeError(f"route {key} is missing from authz/routes.toml") from None
