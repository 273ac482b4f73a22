"""Public ids: 26-character, time-ordered (good index locality), 80 random bits (not enumerable)."""

from __future__ import annotations

import os
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32


def new_id() -> str:
    value = (int(time.time() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def random_code(length: int, alphabet: str = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ") -> str:
    """Human-typeable one-time code (no 0/O, 1/I)."""
    n = len(alphabet)
    return "".join(alphabet[b % n] for b in os.urandom(length))
