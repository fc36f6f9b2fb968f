"""Personal data at rest: phone numbers and notes are Fernet-encrypted before they reach the database.

A key ring (KCC_ENCRYPTION_KEY, comma-separated, newest first): new writes use the newest key,
rows written under an older one still read, and `kcc callbacks reencrypt` moves them to the
newest so the old key can be dropped.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import tuple_, update
from sqlmodel import Session, col, select

from services.callbacks.models import CallbackRow
from services.common.config import Settings
from services.common.db import Database
from services.common.production import development_fernet_key, encryption_keys


def fernet_keys(settings: Settings) -> list[bytes]:
    """The configured keys, or one development key derived from the auth secret.

    The derived key exists so `kcc up` and the tests work without configuration; production
    refuses to start without KCC_ENCRYPTION_KEY (services/common/production.py): a key derived
    from the token-signing secret ties the data to that secret.
    """
    return encryption_keys(settings) or [development_fernet_key(settings.auth_secret)]


class Vault:
    def __init__(self, settings: Settings) -> None:
        keys = fernet_keys(settings)
        self._newest = Fernet(keys[0])
        self._ring = MultiFernet([Fernet(k) for k in keys])

    def seal(self, plain: str) -> str:
        return self._ring.encrypt(plain.encode()).decode() if plain else ""

    def open(self, token: str) -> str:
        return self._ring.decrypt(token.encode()).decode() if token else ""

    def is_current(self, token: str) -> bool:
        """Whether the token is sealed with the newest key (or empty: nothing to re-encrypt)."""
        if not token:
            return True
        try:
            self._newest.decrypt(token.encode())
        except InvalidToken:
            return False
        return True

    def reseal(self, token: str) -> str:
        """The same plaintext sealed with the newest key; InvalidToken if no key in the ring opens it."""
        return self._ring.rotate(token.encode()).decode()


def reencrypt_batch(
    session: Session, vault: Vault, after: tuple[str, str], batch: int
) -> tuple[int, int, tuple[str, str]]:
    """Moves one batch of rows, in key order after `after`, to the newest key.

    Returns (rows read, rows rewritten, last key). A row changed by the service meanwhile is left
    alone (the UPDATE matches the old tokens only): the service wrote it with the newest key anyway.
    """
    rows = session.exec(
        select(CallbackRow.tenant, CallbackRow.id, CallbackRow.phone_encrypted, CallbackRow.note_encrypted)
        .where(tuple_(col(CallbackRow.tenant), col(CallbackRow.id)) > tuple_(*after))
        .order_by(col(CallbackRow.tenant), col(CallbackRow.id))
        .limit(batch)
    ).all()
    rewritten = 0
    for tenant, callback_id, phone, note in rows:
        if vault.is_current(phone) and vault.is_current(note):
            continue
        result = session.connection().execute(
            update(CallbackRow)
            .where(
                col(CallbackRow.tenant) == tenant,
                col(CallbackRow.id) == callback_id,
                col(CallbackRow.phone_encrypted) == phone,
                col(CallbackRow.note_encrypted) == note,
            )
            .values(phone_encrypted=vault.reseal(phone), note_encrypted=vault.reseal(note) if note else "")
        )
        rewritten += result.rowcount
    last = (rows[-1][0], rows[-1][1]) if rows else after
    return len(rows), rewritten, last


async def reencrypt(db: Database, vault: Vault, batch: int = 500) -> tuple[int, int]:
    """Every callback row sealed with the newest key; returns (rows read, rows rewritten)."""
    total = rewritten = 0
    after = ("", "")
    while True:
        read, changed, after = await db.run(lambda s, a=after: reencrypt_batch(s, vault, a, batch))  # type: ignore[misc]
        total += read
        rewritten += changed
        if read < batch:
            return total, rewritten
