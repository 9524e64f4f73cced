"""What `msm-provisioner setup` must change: desired AWS IoT resources against what exists.

Documents live in deploy/aws/ with `{{name}}` placeholders (inside JSON strings, so the files
stay valid JSON). Everything here is pure: the adapter reads the current state, these functions
say create / update / unchanged, the adapter applies.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Final, Literal

Action = Literal["create", "update", "unchanged", "skip"]
TEMPLATE_KEYS: Final = ("description", "enabled", "provisioningRoleArn", "preProvisioningHook")


@dataclass(frozen=True)
class Step:
    kind: str  # device-policy | claim-policy | template | claim-certificate
    name: str
    action: Action
    detail: str = ""
    changes: tuple[str, ...] = field(default_factory=tuple)

    def line(self, dry_run: bool) -> str:
        verb = {"create": "create", "update": "update", "unchanged": "unchanged", "skip": "skip"}
        shown = (
            f"would {verb[self.action]}"
            if dry_run and self.action in ("create", "update")
            else verb[self.action]
        )
        extra = f" ({', '.join(self.changes)})" if self.changes else ""
        note = f": {self.detail}" if self.detail else ""
        return f"{shown:<16} {self.kind:<18} {self.name}{extra}{note}"


def render(text: str, variables: dict[str, str]) -> Any:
    """Fill `{{name}}` placeholders, then parse; unknown placeholders are an error."""
    for name, value in variables.items():
        text = text.replace("{{" + name + "}}", json.dumps(value)[1:-1])
    if "{{" in text:
        start = text.index("{{")
        raise ValueError(f"unfilled placeholder {text[start : text.index('}}', start) + 2]}")
    return json.loads(text)


def policy_step(kind: str, name: str, desired: dict[str, Any], current: str | None) -> Step:
    if current is None:
        return Step(kind, name, "create")
    try:
        same = json.loads(current) == desired
    except ValueError:
        same = False
    return Step(
        kind, name, "unchanged" if same else "update", changes=() if same else ("document",)
    )


def template_step(name: str, desired: dict[str, Any], current: dict[str, Any] | None) -> Step:
    if current is None:
        return Step("template", name, "create")
    changes = [k for k in TEMPLATE_KEYS if current.get(k) != desired.get(k)]
    body = current.get("templateBody")
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            body = None
    if body != desired.get("templateBody"):
        changes.append("templateBody")
    return Step("template", name, "update" if changes else "unchanged", changes=tuple(changes))


def claim_step(name: str, status: str | None, policy_attached: bool, source: str) -> Step:
    if status is None:
        return Step("claim-certificate", name, "create", detail=source)
    changes = []
    if status != "ACTIVE":
        changes.append(f"status {status} -> ACTIVE")
    if not policy_attached:
        changes.append("attach claim policy")
    return Step(
        "claim-certificate", name, "update" if changes else "unchanged", changes=tuple(changes)
    )
