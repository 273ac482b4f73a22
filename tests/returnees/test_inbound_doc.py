"""The worked example of docs/inbound-api.md is what the implementation computes."""

from __future__ import annotations

import re
from pathlib import Path

from zhengding.returnees import signing

DOC = (Path(__file__).resolve().parents[2] / "docs" / "inbound-api.md").read_text(encoding="utf-8")


def test_worked_example_matches_the_implementation():
    body = re.search(r"exactly these bytes\):\n\n    (\{.*\})\n", DOC).group(1).encode()
    digest = re.search(r"SM3\(body\)      = ([0-9a-f]{64})", DOC).group(1)
    signature = re.search(r"signature      = ([0-9a-f]{64})", DOC).group(1)
    assert signing.sm3_hex(body) == digest
    assert (
        signing.sign(
            "demo-secret-3Jq8v0Xz",
            "POST",
            "/api/inbound/registrations",
            "1643092200",
            "9f1c2e7a4b6d8e0f1a2b3c4d",
            body,
        )
        == signature
    )
