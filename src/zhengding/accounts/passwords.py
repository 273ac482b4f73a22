"""Password hashing (argon2id) and policy."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()  # argon2id, library defaults (RFC 9106 low-memory profile)

MIN_LENGTH = 10

# Common passwords and keyboard patterns seen in leaked Chinese and international lists.
_BLOCKLIST = {
    "1234567890",
    "12345678910",
    "0123456789",
    "0987654321",
    "1111111111",
    "0000000000",
    "1234512345",
    "123456789a",
    "a123456789",
    "qwertyuiop",
    "qwerty1234",
    "1qaz2wsx3edc",
    "1q2w3e4r5t",
    "password12",
    "password123",
    "password1234",
    "passw0rd123",
    "p@ssw0rd123",
    "iloveyou12",
    "woaini1314",
    "woaini520",
    "5201314520",
    "1314520520",
    "abcdefghij",
    "abc1234567",
    "abcd123456",
    "admin12345",
    "admin123456",
    "administrator",
    "zhang123456",
    "wang123456",
    "li123456789",
    "asdfghjkl1",
    "zxcvbnm123",
    "aaaaaaaaaa",
    "qazwsxedc123",
    "1qaz@wsx3edc",
    "welcome123",
    "letmein123",
    "football12",
    "baseball12",
    "dragon1234",
    "sunshine12",
    "princess12",
    "superman12",
    "trustno1234",
    "changeme123",
    "zhengding123",
    "zhengding2026",
    "hainan123456",
    "haikou123456",
    "sanya123456",
    "88888888888",
    "66666666666",
    "11223344556",
    "qwe1234567",
    "qweasdzxc1",
    "147258369a",
    "1472583690",
    "9876543210",
    "abc123abc123",
}


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        # Spend comparable time for users without a password, so timing does not tell them apart.
        _hasher.hash(password)
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def hash_password_off_loop(password: str) -> str:
    """argon2 costs tens of milliseconds of CPU: off the event loop, so WebSockets keep flowing."""
    return await asyncio.to_thread(hash_password, password)


async def verify_password_off_loop(password_hash: str | None, password: str) -> bool:
    return await asyncio.to_thread(verify_password, password_hash, password)


def policy_error(password: str, *, personal: list[str] = ()) -> str | None:  # type: ignore[assignment]
    if len(password) < MIN_LENGTH:
        return f"密码至少 {MIN_LENGTH} 位"
    lowered = password.lower()
    if lowered in _BLOCKLIST or len(set(password)) <= 2:
        return "密码过于常见或简单，请换一个"
    for item in personal:
        if item and len(item) >= 4 and item.lower() in lowered:
            return "密码不能包含手机号、用户名等个人信息"
    return None
