"""argon2id password hashing, off the event loop (one hash costs tens of milliseconds)."""

import asyncio

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

# OWASP's argon2id baseline (19 MiB, 2 passes, 1 lane): about 25 ms here, so a 2-core server
# can still answer dozens of logins a second. Each hash records its parameters, so hashes made
# with other settings keep verifying.
_hasher = PasswordHash((Argon2Hasher(memory_cost=19 * 1024, time_cost=2, parallelism=1),))
# Verified against when the account does not exist, so a login for an unknown email takes as
# long as one for a known email and the timing tells nothing.
_DUMMY_HASH = _hasher.hash("keel-timing-equaliser")


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password: str, hashed: str | None) -> bool:
    if hashed is None:
        await asyncio.to_thread(_hasher.verify, password, _DUMMY_HASH)
        return False
    return await asyncio.to_thread(_hasher.verify, password, hashed)
