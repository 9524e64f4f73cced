"""Errors handlers raise; the HTTP layer maps each to a status in one table."""

from __future__ import annotations

from msm_provisioner.domain.allowlist import ManifestError


class NotFound(Exception):
    """No such device (or entry)."""


class Conflict(Exception):
    """The request contradicts the device's state (e.g. rotating a decommissioned device)."""


class ManifestRejected(Exception):
    """The factory manifest has bad rows; nothing was imported."""

    def __init__(self, errors: list[ManifestError]) -> None:
        super().__init__(f"{len(errors)} bad rows")
        self.errors = errors
