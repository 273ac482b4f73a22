"""The inbound request signature (HMAC-SM3), shared by the server and the reference sender.

    string_to_sign = METHOD "\\n" PATH "\\n" TIMESTAMP "\\n" NONCE "\\n" hex(SM3(body))
    signature      = hex(HMAC-SM3(key = secret as UTF-8, string_to_sign as UTF-8))

Headers: X-ZD-Key-Id, X-ZD-Timestamp (Unix seconds), X-ZD-Nonce (16–64 of [A-Za-z0-9_-]),
X-ZD-Signature. See docs/inbound-api.md for a worked example.
"""

from __future__ import annotations

import hmac
import os
import re

from zhengding.core.clock import now
from zhengding.core.hashing import hmac_sm3_hex, sm3_hex

MAX_SKEW_SECONDS = 300
NONCE_RE = re.compile(r"[A-Za-z0-9_-]{16,64}")
KEY_ID, TIMESTAMP, NONCE, SIGNATURE = "X-ZD-Key-Id", "X-ZD-Timestamp", "X-ZD-Nonce", "X-ZD-Signature"


def string_to_sign(method: str, path: str, timestamp: str, nonce: str, body: bytes) -> str:
    return "\n".join([method.upper(), path, timestamp, nonce, sm3_hex(body)])


def sign(secret: str, method: str, path: str, timestamp: str, nonce: str, body: bytes) -> str:
    return hmac_sm3_hex(secret.encode(), string_to_sign(method, path, timestamp, nonce, body).encode())


def verify(
    secret: str, signature: str, method: str, path: str, timestamp: str, nonce: str, body: bytes
) -> bool:
    return hmac.compare_digest(sign(secret, method, path, timestamp, nonce, body), signature.lower())


def signed_headers(
    key_id: str,
    secret: str,
    method: str,
    path: str,
    body: bytes,
    *,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """The headers of a signed request (what the reference sender and the tests use)."""
    ts = str(int(now().timestamp()) if timestamp is None else timestamp)
    nonce = nonce or os.urandom(16).hex()
    return {
        KEY_ID: key_id,
        TIMESTAMP: ts,
        NONCE: nonce,
        SIGNATURE: sign(secret, method, path, ts, nonce, body),
        "Content-Type": "application/json",
    }
