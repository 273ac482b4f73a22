"""Public ids: 26-character, time-ordered (good index locality), 80 random bits (not enumerable)."""

from __future__ import annotations

import base64
import os
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: ASCII order = numeric order
_FROM_RFC4648 = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", _ALPHABET)


def new_id() -> str:
    """48-bit millisecond time + 80 random bits, base32 (26 characters, sortable by creation time)."""
    raw = int(time.time() * 1000).to_bytes(6, "big") + os.urandom(10)
    return base64.b32encode(raw).decode("ascii")[:26].translate(_FROM_RFC4648)


def random_code(length: int, alphabet: str = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ") -> str:
    """Human-typeable one-time code (no 0/O, 1/I). The 32-letter alphabet divides 256: no bias."""
    n = len(alphabet)
    return "".join(alphabet[b % n] for b in os.urandom(length))
