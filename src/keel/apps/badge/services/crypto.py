"""Secrets kept recoverable but unreadable at rest: device HMAC keys and encrypted config values,
as Fernet tokens under a key derived from the server's secret key."""

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken


@lru_cache(maxsize=4)
def _fernet(secret_key: str) -> Fernet:
    # A key of its own (not the token-signing key itself), derived so no second secret is needed.
    digest = hashlib.sha256(f"keel-badge-at-rest:{secret_key}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt(secret_key: str, value: str) -> str:
    return _fernet(secret_key).encrypt(value.encode()).decode()


def decrypt(secret_key: str, token: str) -> str:
    try:
        return _fernet(secret_key).decrypt(token.encode()).decode()
    except InvalidToken:
        raise ValueError("a stored secret cannot be decrypted with this server's key") from None
