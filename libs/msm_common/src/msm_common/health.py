"""Readiness: a service is ready when each dependency it needs answers."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

Check = Callable[[], bool]


@dataclass(frozen=True)
class Readiness:
    ready: bool
    checks: dict[str, bool]

    def as_dict(self) -> dict[str, object]:
        return {"status": "ready" if self.ready else "not_ready", "checks": self.checks}


def readiness(checks: Mapping[str, Check]) -> Readiness:
    """Run each check; one that raises counts as failed rather than failing the probe."""
    results: dict[str, bool] = {}
    for name, check in checks.items():
        try:
            results[name] = bool(check())
        except Exception:  # noqa: BLE001 - a probe reports, it never crashes
            results[name] = False
    return Readiness(all(results.values()), results)
