"""Who each simulated meter is: uuid, serial number and the certificate it connects with.

Per-meter certificates come from `deploy/local/issue-device-cert.sh` (CN = uuid) and are cached
under `<pki>/devices/<uuid>/`, so a restart reuses them.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from msm_metersim.settings import MetersimSettings

# Fixed namespace: the same serial always gets the same uuid (and so the same cached cert).
UUID_NAMESPACE: Final = uuid.UUID("6f1c4a52-3c1e-4f0b-9a57-6d2a0e9c1b7d")
ISSUE_TIMEOUT_S: Final = 60.0


@dataclass(frozen=True)
class Identity:
    device_uuid: str
    serial: str
    cert_file: Path | None = None  # None: the meter rides a shared connection
    key_file: Path | None = None


def serials(prefix: str, start: int, count: int) -> list[str]:
    """`SIM-000001`, `SIM-000002`, ...: the serial numbers of a simulated fleet."""
    return [f"{prefix}{number:06d}" for number in range(start, start + count)]


def uuid_for(serial: str) -> str:
    return str(uuid.uuid5(UUID_NAMESPACE, serial))


def cert_paths(settings: MetersimSettings, thing: str) -> tuple[Path, Path]:
    folder = settings.devices_dir / thing
    return folder / "cert.pem", folder / "key.pem"


def has_cert(settings: MetersimSettings, thing: str) -> bool:
    return all(path.is_file() and path.stat().st_size > 0 for path in cert_paths(settings, thing))


def issue_cert(settings: MetersimSettings, thing: str) -> tuple[Path, Path]:
    """The meter's certificate, issued by the local CA the first time."""
    cert, key = cert_paths(settings, thing)
    if not has_cert(settings, thing):
        subprocess.run(
            ["bash", settings.metersim_issue_cert_command, thing, str(cert.parent)],
            check=True,
            capture_output=True,
            timeout=ISSUE_TIMEOUT_S,
        )
    return cert, key


def with_certificates(
    settings: MetersimSettings,
    serial_numbers: Sequence[str],
    uuids: Sequence[str] | None = None,
    *,
    workers: int = 4,
) -> list[Identity]:
    """Identities with their own certificates (issued in parallel where missing)."""
    things = list(uuids) if uuids is not None else [uuid_for(s) for s in serial_numbers]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="metersim-pki") as pool:
        issued = list(pool.map(lambda thing: issue_cert(settings, thing), things))
    return [
        Identity(thing, serial, cert, key)
        for thing, serial, (cert, key) in zip(things, serial_numbers, issued, strict=True)
    ]


def shared(serial_numbers: Sequence[str], uuids: Sequence[str] | None = None) -> list[Identity]:
    """Identities without certificates: they publish through the shared loadgen connections."""
    things = list(uuids) if uuids is not None else [uuid_for(s) for s in serial_numbers]
    return [Identity(t, s) for t, s in zip(things, serial_numbers, strict=True)]
