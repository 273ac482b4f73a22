"""Column types for personal data: SM4-GCM ciphertext at rest, plaintext in Python."""

from __future__ import annotations

from typing import Any

from sqlalchemy import LargeBinary, Text, TypeDecorator

from zhengding.privacy import crypto


class Encrypted(TypeDecorator[str]):
    """`Encrypted("users.phone")`: the context (table.column) is bound as associated data."""

    impl = Text
    cache_ok = True

    def __init__(self, context: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.context = context

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        if value is None:
            return None
        return crypto.encrypt(str(value), self.context)

    def process_result_value(self, value: Any, dialect: Any) -> str | None:
        if value is None:
            return None
        return crypto.decrypt(value, self.context)


class EncryptedBlob(TypeDecorator[bytes]):
    """`EncryptedBlob("roster_imports.report")`: bytes sealed with SM4-GCM at rest (the key id
    travels with them), plaintext in Python; bytes stored in clear before are read as they are."""

    impl = LargeBinary
    cache_ok = True

    def __init__(self, context: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.context = context

    def process_bind_param(self, value: Any, dialect: Any) -> bytes | None:
        if value is None:
            return None
        return crypto.seal(bytes(value), self.context)

    def process_result_value(self, value: Any, dialect: Any) -> bytes | None:
        if value is None:
            return None
        return crypto.unseal(bytes(value), self.context)
