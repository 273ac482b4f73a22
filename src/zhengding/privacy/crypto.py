"""SM4-GCM encryption of personal data at rest and HMAC-SM3 blind indexes for exact lookup.

Ciphertext format: "v1:<key_id>:<base64(nonce 12 | ciphertext | tag 16)>". The table and column
are bound as associated data, so a value copied into another column does not decrypt. The key id
travels with each value, so keys can be rotated: new writes use the first key, old values stay
readable while their key is still configured.

Bulk writes (imports) encrypt a column of a chunk with `encrypt_many` and index it with
`blind_index_many`: the same format and the same keys, with the per-call set-up (keyring,
cipher algorithm object, associated data, one read of random bytes for all the nonces) done
once per column instead of once per value.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac as std_hmac
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hmac as c_hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from zhengding.config import get_settings, parse_data_keys, parse_index_key
from zhengding.core.hashing import hmac_sm3, hmac_sm3_hex

PREFIX = "v1"


class KeyError_(Exception):
    pass


@dataclass(frozen=True)
class Keyring:
    current_id: str
    keys: dict[str, bytes]
    index_key: bytes

    @classmethod
    def parse(cls, data_keys: str, index_key: str) -> Keyring:
        # The rules are the configuration's (checked at start): one place says what a key is.
        keys, problems = parse_data_keys(data_keys)
        if problems:
            raise KeyError_("ZD_DATA_KEYS: " + "; ".join(problems))
        idx, problem = parse_index_key(index_key)
        if problem:
            raise KeyError_("ZD_INDEX_KEY: " + problem)
        return cls(next(iter(keys)), keys, idx)


@lru_cache(maxsize=1)
def keyring() -> Keyring:
    settings = get_settings()
    return Keyring.parse(settings.data_keys, settings.index_key)


def reset_keyring() -> None:
    keyring.cache_clear()
    _sm4.cache_clear()


@lru_cache(maxsize=16)
def _sm4(key: bytes) -> algorithms.SM4:
    return algorithms.SM4(key)


def encrypt(plaintext: str, context: str) -> str:
    ring = keyring()
    nonce = os.urandom(12)
    encryptor = Cipher(_sm4(ring.keys[ring.current_id]), modes.GCM(nonce)).encryptor()
    encryptor.authenticate_additional_data(context.encode())
    body = encryptor.update(plaintext.encode()) + encryptor.finalize()
    token = base64.b64encode(nonce + body + encryptor.tag).decode()
    return f"{PREFIX}:{ring.current_id}:{token}"


def encrypt_many(plaintexts: Sequence[str | None], context: str) -> list[str | None]:
    """`encrypt` of each value (None stays None): one fresh random nonce per value, as there."""
    ring = keyring()
    algorithm = _sm4(ring.keys[ring.current_id])
    aad = context.encode()
    prefix = f"{PREFIX}:{ring.current_id}:"
    nonces = os.urandom(12 * len(plaintexts))
    gcm, b64 = modes.GCM, binascii.b2a_base64
    out: list[str | None] = []
    append = out.append
    for i, plaintext in enumerate(plaintexts):
        if plaintext is None:
            append(None)
            continue
        nonce = nonces[12 * i : 12 * i + 12]
        encryptor = Cipher(algorithm, gcm(nonce)).encryptor()
        encryptor.authenticate_additional_data(aad)
        body = encryptor.update(plaintext.encode()) + encryptor.finalize()
        append(prefix + b64(nonce + body + encryptor.tag, newline=False).decode())
    return out


def decrypt(stored: str, context: str) -> str:
    prefix, key_id, token = stored.split(":", 2)
    if prefix != PREFIX:
        raise ValueError("unknown ciphertext format")
    key = keyring().keys.get(key_id)
    if key is None:
        raise KeyError_(f"personal-data key {key_id!r} is not configured")
    raw = base64.b64decode(token)
    nonce, body, tag = raw[:12], raw[12:-16], raw[-16:]
    decryptor = Cipher(_sm4(key), modes.GCM(nonce, tag)).decryptor()
    decryptor.authenticate_additional_data(context.encode())
    try:
        return (decryptor.update(body) + decryptor.finalize()).decode()
    except InvalidTag as exc:
        raise ValueError(f"personal data failed authentication ({context})") from exc


def blind_index(kind: str, value: str) -> str:
    """Deterministic HMAC-SM3 of a normalised value: equal values match, nothing is revealed.

    `kind` ("phone", "id_number", "name") separates the domains; it is not per table, so that
    a nucleic-acid result links to a returnee and a task by the same ID number.
    """
    mac = _index_mac(keyring().index_key).copy()  # copying the keyed state halves the cost
    mac.update(f"{kind}:{value}".encode())
    return mac.finalize().hex()


def blind_index_many(kind: str, values: Sequence[str | None]) -> list[str | None]:
    """`blind_index` of each value (None stays None)."""
    base = _index_mac(keyring().index_key)
    tag = f"{kind}:"
    out: list[str | None] = []
    append = out.append
    for value in values:
        if value is None:
            append(None)
            continue
        mac = base.copy()
        mac.update((tag + value).encode())
        append(mac.finalize().hex())
    return out


@lru_cache(maxsize=4)
def _index_mac(key: bytes) -> c_hmac.HMAC:
    return hmac_sm3(key)


def keyed_hash(secret: str, value: str) -> str:
    """HMAC-SM3 with the server secret: for high-entropy tokens (sessions, activation codes)."""
    return hmac_sm3_hex(hashlib.sha256(secret.encode()).digest(), value.encode())


def constant_time_equal(a: str, b: str) -> bool:
    return std_hmac.compare_digest(a.encode(), b.encode())


# --- blobs ---------------------------------------------------------------------------------
# Stored bytes (import error reports, photos, attached files): the same SM4-GCM keys as the
# fields, in a binary envelope: MAGIC | len(key id) | key id | nonce 12 | ciphertext | tag 16.
# The context (table.column, or "stored_files") is the associated data. Bytes stored before
# blobs were encrypted have no MAGIC and are returned as they are, so old reports still open.

BLOB_MAGIC = b"ZDB\x01"


def is_sealed(stored: bytes) -> bool:
    return stored[:4] == BLOB_MAGIC


def seal(data: bytes, context: str) -> bytes:
    ring = keyring()
    key_id = ring.current_id.encode()
    nonce = os.urandom(12)
    encryptor = Cipher(_sm4(ring.keys[ring.current_id]), modes.GCM(nonce)).encryptor()
    encryptor.authenticate_additional_data(context.encode())
    body = encryptor.update(data) + encryptor.finalize()
    return BLOB_MAGIC + bytes([len(key_id)]) + key_id + nonce + body + encryptor.tag


def unseal(stored: bytes, context: str) -> bytes:
    """The plaintext of `seal`; bytes without the envelope (stored before encryption) as is."""
    if not is_sealed(stored):
        return stored
    n = stored[4]
    key_id = stored[5 : 5 + n].decode()
    key = keyring().keys.get(key_id)
    if key is None:
        raise KeyError_(f"personal-data key {key_id!r} is not configured")
    nonce, body, tag = stored[5 + n : 17 + n], stored[17 + n : -16], stored[-16:]
    decryptor = Cipher(_sm4(key), modes.GCM(nonce, tag)).decryptor()
    decryptor.authenticate_additional_data(context.encode())
    try:
        return decryptor.update(body) + decryptor.finalize()
    except InvalidTag as exc:
        raise ValueError(f"stored bytes failed authentication ({context})") from exc


def sealed_key_id(stored: bytes) -> str | None:
    """The key a sealed blob was written with (None for bytes stored in clear)."""
    return stored[5 : 5 + stored[4]].decode() if is_sealed(stored) else None


def content_address(data: bytes) -> str:
    """A keyed digest of stored bytes (HMAC-SM3 under the index key): equal files share one
    address, and a guess of a small file's content cannot be confirmed from the address."""
    mac = _index_mac(keyring().index_key).copy()
    mac.update(b"file:")
    mac.update(data)
    return mac.finalize().hex()
