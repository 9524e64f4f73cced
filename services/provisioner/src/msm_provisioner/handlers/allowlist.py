"""Importing a factory manifest into the allowlist (CLI, admin API, local seeding)."""

from __future__ import annotations

from datetime import datetime

from msm_provisioner.adapters.store import ImportResult, Store
from msm_provisioner.domain.allowlist import ManifestError, parse_manifest
from msm_provisioner.handlers.errors import ManifestRejected
from msm_provisioner.settings import ProvisionerSettings


def import_manifest(store: Store, text: str, *, now: datetime) -> ImportResult:
    """Validate the whole manifest, then upsert it (idempotent); refuse it if any row is bad."""
    manifest = parse_manifest(text)
    if not manifest.ok:
        raise ManifestRejected(manifest.errors)
    conflicts = store.imei_conflicts(manifest.entries)
    if conflicts:
        raise ManifestRejected(
            [
                ManifestError(manifest.line_of(imei), f"imei {imei} belongs to serial {serial}")
                for imei, serial in sorted(conflicts.items())
            ][:50]
        )
    return store.import_allowlist(manifest.entries, now)


def seed_allowlist(settings: ProvisionerSettings, store: Store, now: datetime) -> str | None:
    """Local stack: import MSM_PROVISIONER_SEED_ALLOWLIST (idempotent); a summary, or None."""
    path = settings.seed_allowlist_path
    if path is None or settings.is_production:
        return None
    result = import_manifest(store, path.read_text(encoding="utf-8"), now=now)
    return f"allowlist {path}: {result.as_dict()}"
