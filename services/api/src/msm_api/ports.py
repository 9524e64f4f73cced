"""What the views need from the database, one Protocol per part.

The real ones are in `msm_api.adapters`; unit tests use in-memory fakes behind the same
Protocols (tests/unit/api).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from msm_api.domain.timerange import TimeRange
from msm_api.security.ratelimit import RateLimit

Document = dict[str, Any]
Key = tuple[datetime, str]  # (time, _id): a position in a keyset page
Filter = Mapping[str, Any]  # field -> value, every one must match
Span = tuple[datetime, datetime]  # [start, end)


class ApiStore(Protocol):
    # -- devices ------------------------------------------------------------------------------
    def device(self, device_uuid: str) -> Document | None: ...

    def devices_page(
        self, after: str | None, limit: int, *, online: bool | None = None, text: str | None = None
    ) -> list[Document]:
        """Devices by `_id` after `after` (online or not; `text` in the uuid or IMEI, any case),
        at most `limit`, each with its `latest` readings."""
        ...

    def device_commands(
        self, device_uuid: str, before: Key | None, limit: int, *, status: str | None = None
    ) -> list[Document]:
        """The device's commands newest first, (created_at, `_id`) before `before`."""
        ...

    def in_flight_commands(self, device_uuid: str, limit: int) -> list[Document]:
        """The device's queued and sent commands, oldest first (`_id`, type, status, created_at)."""
        ...

    # -- commands -----------------------------------------------------------------------------
    def command(self, command_id: str) -> Document | None: ...

    def command_by_idempotency_key(self, key: str) -> Document | None: ...

    def insert_command(self, doc: Document) -> bool:
        """False if a command with the same idempotency key (or id) is stored already."""
        ...

    def update_if_queued(self, command_id: str, update: Mapping[str, Any]) -> Document | None:
        """Apply `update` to a command still queued; the command after it, else None."""
        ...

    # -- configs ------------------------------------------------------------------------------
    def config(self, kind: str, device_uuid: str) -> Document | None: ...

    def configs_page(self, kind: str, after: str | None, limit: int) -> list[Document]:
        """Config documents of `kind` by device_uuid, after `after`; at most `limit`."""
        ...

    def latest_commands(self, kind: str, device_uuids: list[str]) -> dict[str, Document]:
        """The newest command of `kind` per device: command_id, status, created_at, updated_at."""
        ...


class TelemetryStore(Protocol):
    """The `telemetry` rows (fields `domain.telemetry.READING_FIELDS` and `_id`)."""

    def readings(
        self, base: Filter, rng: TimeRange, after: Key | None, limit: int
    ) -> list[Document]:
        """Rows matching `base` with timestamp in `rng` (from inclusive, to exclusive),
        (timestamp, `_id`) after `after`, in (timestamp, `_id`) order; at most `limit`."""
        ...

    def buckets(self, base: Filter, rng: Span, interval: str) -> list[Document]:
        """`domain.telemetry.bucket_row`s of the rows matching `base` in `rng`, in
        (bucket start, device, channel, phase) order."""
        ...

    def first_timestamp(self, base: Filter, rng: Span) -> datetime | None:
        """The oldest timestamp of a row matching `base` in `rng`."""
        ...

    def newest(self, device_uuid: str, after: datetime | None, limit: int) -> list[Document]:
        """The device's rows after `after`, newest first; at most `limit`."""
        ...


class LoginAttempts(Protocol):
    """Failed logins counted per key (account, address), with a growing wait between them."""

    def begin(self, keys: tuple[str, ...], now: datetime) -> int:
        """Count an attempt under each key; 0 if it may go on, else seconds to wait (429)."""
        ...

    def succeeded(self, account: str, address: str, now: datetime) -> None:
        """The attempt was right: the account starts afresh; the address gets its attempt back."""
        ...


class RateLimits(Protocol):
    def take(self, limit: RateLimit, who: str, now: datetime) -> int:
        """Count one request by `who`; 0 if allowed, else seconds until the window ends."""
        ...


class UserStore(Protocol):
    """The `users` accounts (user ids are the canonical 24-hex form) and their refresh tokens."""

    def user(self, user_id: str) -> Document | None: ...

    def user_by(self, field: str, value: str) -> Document | None:
        """The account whose `field` (username or email) is `value`."""
        ...

    def any_user(self) -> bool: ...

    def insert_user(self, doc: Document) -> bool:
        """Store `doc` (setting its `_id`); False if the username or email is taken."""
        ...

    def users_page(self, after: str | None, limit: int) -> list[Document]:
        """Accounts by username after `after`; at most `limit`."""
        ...

    def update_user(self, user_id: str, changes: Mapping[str, Any]) -> Document | None:
        """Set `changes` and bump the token version; the account after, None if gone."""
        ...

    def restore_user(self, user_id: str, fields: Mapping[str, Any]) -> None:
        """Set `fields` back (undo a change), leaving the token version."""
        ...

    def bump_token_version(self, user_id: str) -> None:
        """Invalidate every access token issued to the account so far."""
        ...

    def has_enabled_admin(self, admin_role: str, *, besides: str | None = None) -> bool:
        """Whether an enabled account holds `admin_role` (other than `besides`)."""
        ...

    def anyone_holds(self, role: str) -> bool: ...

    # -- refresh tokens -----------------------------------------------------------------------
    def insert_refresh(self, doc: Document) -> None: ...

    def mark_replaced(self, jti: str, replaced_by: str) -> None: ...

    def spend_refresh(self, jti: str, replaced_by: str, now: datetime) -> Document | None:
        """Mark a live, unspent refresh token spent; the token after, None if it was not."""
        ...

    def refresh_known(self, jti: str) -> bool: ...

    def revoke_family(self, family: str) -> None: ...

    def revoke_user_refresh(self, user_id: str) -> None: ...


class RoleStore(Protocol):
    """The `roles` documents: name, permissions, created_at/updated_at."""

    def roles(self, names: Sequence[str] | None = None) -> list[Document]:
        """The roles named (all of them if None), by name."""
        ...

    def role(self, name: str) -> Document | None: ...

    def insert_role(self, doc: Document) -> bool:
        """False if a role of that name exists."""
        ...

    def set_permissions(self, name: str, permissions: Sequence[str], now: datetime) -> bool:
        """False if there is no such role."""
        ...

    def delete_role(self, name: str) -> bool:
        """False if there is no such role."""
        ...


@dataclass(frozen=True)
class AuditFilter:
    actor: str | None = None
    action: str | None = None
    start: datetime | None = None  # `at` in [start, end)
    end: datetime | None = None


class AuditLog(Protocol):
    def record(self, entry: Document) -> None: ...

    def page(self, query: AuditFilter, before: Key | None, limit: int) -> list[Document]:
        """Entries matching `query` newest first by (at, `_id`), before `before`."""
        ...
