"""Device secrets (mqtt/sftp passwords) encrypted at rest: Fernet under an envelope key.

The api seals a secret before anything stores or publishes it; the commander opens it only to
build the payload it publishes to the device. A sealed value is a string:

    msmsec1:local:<fernet token>             key from the local key file (MultiFernet)
    msmsec1:kms:<wrapped data key>:<token>   data key made by KMS GenerateDataKey, wrapped by
                                             the KMS key; KMS Decrypt unwraps it

Rotation. Local: `add_local_key` puts a new key first in the file; new values use it, values
under the older keys still open; `reseal` (the commander's `reencrypt-secrets`) moves stored
values to the newest key, after which the old keys may be removed. KMS: every process makes a
fresh data key at start (and after `data_key_ttl_s`); the wrapped key travels with each value,
so values under older data keys, or under an older KMS key (or key material), still open as
long as KMS can decrypt them.
"""

from __future__ import annotations

import base64
import binascii
import os
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final, Protocol

import boto3
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from msm_common.contracts.commands import SEALED_PREFIX, secret_fields
from msm_common.settings import CommonSettings, SettingsError

PREFIX: Final = SEALED_PREFIX
_LOCAL: Final = "local"
_KMS: Final = "kms"
# Bound to every KMS data key: a wrapped key made for something else does not unwrap here.
KMS_CONTEXT: Final = {"purpose": "msm-device-secret"}
_KMS_REFUSALS: Final = frozenset(
    {"InvalidCiphertextException", "IncorrectKeyException", "AccessDeniedException"}
)


class SecretError(ValueError):
    """A sealed value cannot be opened (wrong key, tampered, not sealed). Never holds the secret."""


class Keyring(Protocol):
    def current(self) -> tuple[str, Fernet]:
        """The key new values are sealed with, and its reference written into the value."""
        ...

    def opener(self, ref: str) -> Fernet | MultiFernet:
        """The key(s) that open a value sealed under `ref`."""
        ...


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


class SecretBox:
    """Seal and open secrets with a keyring."""

    def __init__(self, keyring: Keyring) -> None:
        self._keyring = keyring

    def seal(self, plaintext: str) -> str:
        ref, fernet = self._keyring.current()
        token = fernet.encrypt(plaintext.encode()).decode()
        return f"{PREFIX}{ref}:{token}"

    def open(self, sealed: str) -> str:
        if not is_sealed(sealed):
            raise SecretError("the secret is not encrypted (run reencrypt-secrets)")
        ref, _, token = sealed[len(PREFIX) :].rpartition(":")
        if not ref or not token:
            raise SecretError("malformed encrypted secret")
        try:
            return self._keyring.opener(ref).decrypt(token.encode()).decode()
        except (InvalidToken, UnicodeDecodeError):
            raise SecretError("the secret cannot be decrypted with the configured keys") from None

    def reseal(self, value: str) -> str:
        """`value` under the current key (a plaintext left from before encryption is sealed)."""
        return self.seal(self.open(value) if is_sealed(value) else value)


def _map_secrets(type_: str, params: Mapping[str, Any], fn: Callable[[str], str]) -> dict[str, Any]:
    hidden = secret_fields(type_)
    return {k: fn(v) if k in hidden and isinstance(v, str) else v for k, v in params.items()}


def sealed_fields(type_: str, params: Mapping[str, Any]) -> list[str]:
    """The secret fields of `params` that hold a sealed value (never valid client input)."""
    return sorted(name for name in secret_fields(type_) if is_sealed(params.get(name)))


def seal_params(box: SecretBox, type_: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """`params` with the secret fields of `type_` sealed (as the api stores and publishes them)."""
    return _map_secrets(type_, params, box.seal)


def open_params(box: SecretBox, type_: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """`params` with the secret fields opened (only for the payload published to the device)."""
    return _map_secrets(type_, params, box.open)


def reseal_params(box: SecretBox, type_: str, params: Mapping[str, Any]) -> dict[str, Any]:
    return _map_secrets(type_, params, box.reseal)


# -- local key file -------------------------------------------------------------------------
def _read_keys(path: Path) -> list[bytes]:
    lines = path.read_text().splitlines()
    keys = [line.strip().encode() for line in lines if line.strip() and not line.startswith("#")]
    if not keys:
        raise SecretError(f"no key in {path}")
    return keys


def ensure_local_keyfile(path: Path) -> Path:
    """Create `path` (mode 0600) with one new key unless it exists; safe against a concurrent
    creator (the first file linked into place wins, everyone reads that one)."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("# MSM secrets envelope keys (Fernet), newest first. Never commit.\n")
        handle.write(Fernet.generate_key().decode() + "\n")
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path


def add_local_key(path: Path) -> None:
    """Rotation: a new key becomes the first (sealing) key; the older ones still open."""
    keys = _read_keys(path)
    tmp = path.with_name(f".{path.name}.rotate.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("# MSM secrets envelope keys (Fernet), newest first. Never commit.\n")
        for key in [Fernet.generate_key(), *keys]:
            handle.write(key.decode() + "\n")
    tmp.replace(path)


class LocalKeyring:
    """Keys from a file, newest first: the first seals, any opens. Re-read when the file changes."""

    def __init__(self, path: Path, *, create: bool = False) -> None:
        """`create`: make the key file (ensure_local_keyfile) at first use if it is missing."""
        self._path = path
        self._create = create
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._keys: MultiFernet | None = None
        self._first: Fernet | None = None

    def _load(self) -> tuple[Fernet, MultiFernet]:
        if self._create and not self._path.exists():
            ensure_local_keyfile(self._path)
        stat = self._path.stat()
        stamp = (stat.st_mtime_ns, stat.st_ino)
        with self._lock:
            if self._stamp != stamp or self._keys is None or self._first is None:
                try:
                    fernets = [Fernet(key) for key in _read_keys(self._path)]
                except (ValueError, binascii.Error) as exc:
                    raise SecretError(f"bad key in {self._path}: {exc}") from None
                self._first, self._keys, self._stamp = fernets[0], MultiFernet(fernets), stamp
            return self._first, self._keys

    def current(self) -> tuple[str, Fernet]:
        return _LOCAL, self._load()[0]

    def opener(self, ref: str) -> Fernet | MultiFernet:
        if ref != _LOCAL:
            raise SecretError("the secret was sealed by KMS; this service has only a local key")
        return self._load()[1]


# -- KMS envelope ---------------------------------------------------------------------------
class KmsClient(Protocol):
    """The two calls of boto3's `kms` client used here."""

    def generate_data_key(self, **kwargs: Any) -> Mapping[str, Any]: ...

    def decrypt(self, **kwargs: Any) -> Mapping[str, Any]: ...


class KmsKeyring:
    """Data keys from KMS: a fresh one per process (renewed after `data_key_ttl_s`)."""

    def __init__(
        self, client: KmsClient, key_id: str, *, data_key_ttl_s: float = 3600, cache: int = 256
    ) -> None:
        self._client, self._key_id = client, key_id
        self._ttl, self._cache_size = data_key_ttl_s, cache
        self._lock = threading.Lock()
        self._current: tuple[str, Fernet, float] | None = None
        self._opened: dict[str, Fernet] = {}

    def current(self) -> tuple[str, Fernet]:
        with self._lock:
            if self._current is None or time.monotonic() - self._current[2] > self._ttl:
                made = self._client.generate_data_key(
                    KeyId=self._key_id, KeySpec="AES_256", EncryptionContext=KMS_CONTEXT
                )
                ref = f"{_KMS}:{base64.urlsafe_b64encode(made['CiphertextBlob']).decode()}"
                fernet = Fernet(base64.urlsafe_b64encode(made["Plaintext"]))
                self._current = (ref, fernet, time.monotonic())
                self._remember(ref, fernet)
            return self._current[0], self._current[1]

    def opener(self, ref: str) -> Fernet:
        kind, _, wrapped = ref.partition(":")
        if kind != _KMS or not wrapped:
            raise SecretError("the secret was sealed with a local key, not by KMS")
        with self._lock:
            found = self._opened.get(ref)
        if found is not None:
            return found
        try:
            blob = base64.urlsafe_b64decode(wrapped)
        except (ValueError, binascii.Error):
            raise SecretError("malformed wrapped data key") from None
        try:
            plain = self._client.decrypt(CiphertextBlob=blob, EncryptionContext=KMS_CONTEXT)
        except Exception as exc:  # botocore's ClientError, without importing botocore here
            code = getattr(exc, "response", {}).get("Error", {}).get("Code")
            if code in _KMS_REFUSALS:
                raise SecretError(f"KMS cannot unwrap the data key: {code}") from None
            raise  # KMS unreachable or throttling: not the secret's fault, try again later
        fernet = Fernet(base64.urlsafe_b64encode(plain["Plaintext"]))
        with self._lock:
            self._remember(ref, fernet)
        return fernet

    def _remember(self, ref: str, fernet: Fernet) -> None:
        if len(self._opened) >= self._cache_size:
            self._opened.pop(next(iter(self._opened)))
        self._opened[ref] = fernet


def box_for(settings: CommonSettings, *, kms_client: KmsClient | None = None) -> SecretBox:
    """The service's SecretBox: KMS when `MSM_SECRETS_KMS_KEY_ID` is set (required in
    production), else the local key file `MSM_SECRETS_KEY_FILE` (created on first use)."""
    key_id = settings.secrets_kms_key_id
    if key_id:
        if kms_client is None:
            kms_client = boto3.client(
                "kms", region_name=settings.aws_region, endpoint_url=settings.aws_endpoint_url
            )
        return SecretBox(KmsKeyring(kms_client, key_id))
    if settings.is_production:
        raise SettingsError("production mode needs MSM_SECRETS_KMS_KEY_ID (secrets at rest)")
    return SecretBox(LocalKeyring(settings.secrets_key_file, create=True))  # file at first use
