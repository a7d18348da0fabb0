"""Exchange API credentials: masked in logs, encrypted at rest with Fernet.

The fleet service calls `CredentialCipher.encrypt` when a user hands over keys;
only the exchange layer calls `decrypt` (through `Credentials.from_encrypted`).
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken


class CredentialError(ValueError):
    """A stored credential cannot be decrypted (wrong master key or corrupted token)."""


def mask(value: str) -> str:
    """First and last two characters of a long secret, nothing of a short one."""
    if len(value) < 8:
        return "…"
    return f"{value[:2]}…{value[-2:]}"


class Credentials:
    """An exchange API key with its secret and (Bitget, OKX) passphrase.

    The values live in private slots and never appear in repr/str, so a stray
    log line or traceback cannot leak them.
    """

    __slots__ = ("_api_key", "_passphrase", "_secret")

    def __init__(self, api_key: str, secret: str, passphrase: str | None = None) -> None:
        if not api_key or not secret:
            raise ValueError("api_key and secret are required")
        self._api_key = api_key
        self._secret = secret
        self._passphrase = passphrase

    @classmethod
    def from_encrypted(
        cls,
        cipher: CredentialCipher,
        api_key_token: str,
        secret_token: str,
        passphrase_token: str | None = None,
    ) -> Credentials:
        """Decrypt the three tokens stored on the user row."""
        return cls(
            cipher.decrypt(api_key_token),
            cipher.decrypt(secret_token),
            cipher.decrypt(passphrase_token) if passphrase_token else None,
        )

    @property
    def api_key(self) -> str:
        return self._api_key

    @property
    def secret(self) -> str:
        return self._secret

    @property
    def passphrase(self) -> str | None:
        return self._passphrase

    def __repr__(self) -> str:
        return f"Credentials(api_key='{mask(self._api_key)}')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Credentials):
            return NotImplemented
        return (self._api_key, self._secret, self._passphrase) == (
            other._api_key,
            other._secret,
            other._passphrase,
        )

    def __hash__(self) -> int:
        return hash((self._api_key, self._secret, self._passphrase))

    def __reduce__(self) -> object:
        # Pickling would write the secrets in clear; they are meant to be re-decrypted instead.
        raise TypeError("Credentials cannot be pickled")


class CredentialCipher:
    """Symmetric encryption of credentials at rest (Fernet: AES-128-CBC + HMAC-SHA256).

    `key` is a Fernet key (32 url-safe base64 bytes), e.g. from `generate_key()`,
    kept in the deployment's settings, never in the database.
    """

    __slots__ = ("_fernet",)

    def __init__(self, key: bytes | str) -> None:
        raw = key.encode() if isinstance(key, str) else key
        try:
            self._fernet = Fernet(raw)
        except (ValueError, TypeError) as exc:
            raise CredentialError("invalid credential encryption key") from exc

    @staticmethod
    def generate_key() -> str:
        return Fernet.generate_key().decode()

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise CredentialError("cannot decrypt credential: wrong key or corrupted token") from exc

    def __repr__(self) -> str:
        return "CredentialCipher(key=***)"
