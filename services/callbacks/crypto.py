"""Personal data at rest: phone numbers and notes are Fernet-encrypted before they reach the database."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet

from services.common.config import Settings


def fernet_key(settings: Settings) -> bytes:
    """The configured KCC_ENCRYPTION_KEY, or a development key derived from the auth secret.

    The derived key exists so `kcc up` and the tests work without configuration. Production
    MUST set KCC_ENCRYPTION_KEY (`python -c "from cryptography.fernet import Fernet;
    print(Fernet.generate_key().decode())"`): a key derived from the token-signing secret ties
    the data to that secret, and rotating one would make the other unreadable.
    """
    if settings.encryption_key:
        return settings.encryption_key.encode()
    digest = hashlib.sha256(b"kcc-callbacks-encryption-key:" + settings.auth_secret.encode()).digest()
    return base64.urlsafe_b64encode(digest)


class Vault:
    def __init__(self, settings: Settings) -> None:
        self._fernet = Fernet(fernet_key(settings))

    def seal(self, plain: str) -> str:
        return self._fernet.encrypt(plain.encode()).decode() if plain else ""

    def open(self, token: str) -> str:
        return self._fernet.decrypt(token.encode()).decode() if token else ""
