"""SM3 (GB/T 32905) digests and HMAC-SM3, defined once for every domain.

The audit chain hashes its rows with `sm3_hex`; inbound requests are signed with HMAC-SM3 over
a string that holds the SM3 of the body (returnees/signing.py); personal-data blind indexes,
content addresses and token hashes are HMAC-SM3 under their keys (privacy/crypto.py).
"""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as c_hmac


def sm3_hex(data: bytes) -> str:
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize().hex()


def hmac_sm3(key: bytes) -> c_hmac.HMAC:
    """A fresh HMAC-SM3 state under `key`; `.copy()` it to reuse the keyed state."""
    return c_hmac.HMAC(key, hashes.SM3())


def hmac_sm3_hex(key: bytes, data: bytes) -> str:
    mac = hmac_sm3(key)
    mac.update(data)
    return mac.finalize().hex()
