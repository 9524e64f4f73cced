"""Fleet-provisioning templates in AWS's format, and what RegisterThing must do with one.

A template file is what `aws iot describe-provisioning-template` shows (`templateName`,
`enabled`, `preProvisioningHook`, `templateBody` as a JSON string or object), or a bare template
body (`Parameters`, `Resources`, `DeviceConfiguration`) named by its file name. Files are read at
each request from the template directories, so a new file needs no restart.

Supported in the body: parameters with `Default`; `Ref`, `Fn::Join`, `Fn::Sub`, `Fn::Select`,
`Fn::Split`, `Fn::FindInMap`; resources `AWS::IoT::Thing` (ThingName, AttributePayload,
ThingTypeName, ThingGroups), `AWS::IoT::Certificate` (Status), `AWS::IoT::Policy` (PolicyName or
PolicyDocument). Pure apart from `TemplateDirectory.find`, which reads files.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol

JsonObject = dict[str, Any]

_NAME_RE: Final = re.compile(r"[A-Za-z0-9_-]{1,36}")
_SUB_RE: Final = re.compile(r"\$\{([^}]+)\}")


class TemplateError(ValueError):
    """The template cannot be applied with these parameters (RegisterThing is rejected)."""


@dataclass(frozen=True)
class ProvisioningTemplate:
    name: str
    body: JsonObject
    enabled: bool = True
    hook_target: str | None = None  # preProvisioningHook.targetArn (locally: an http(s) URL)

    @classmethod
    def from_document(cls, document: JsonObject, default_name: str) -> ProvisioningTemplate:
        if "templateBody" not in document:
            return cls(default_name, document)
        body = document["templateBody"]
        if isinstance(body, str):
            body = json.loads(body)
        if not isinstance(body, dict):
            raise TemplateError("templateBody must be a JSON object")
        hook = document.get("preProvisioningHook") or {}
        return cls(
            name=str(document.get("templateName", default_name)),
            body=body,
            enabled=bool(document.get("enabled", True)),
            hook_target=hook.get("targetArn") if isinstance(hook, dict) else None,
        )


@dataclass(frozen=True)
class ProvisioningPlan:
    """What RegisterThing does for one device, parameters resolved."""

    thing_name: str
    attributes: dict[str, str] = field(default_factory=dict)
    thing_type: str | None = None
    thing_groups: tuple[str, ...] = ()
    certificate_status: str = "ACTIVE"
    policy_name: str | None = None
    policy_document: str | None = None
    device_configuration: JsonObject = field(default_factory=dict)


class TemplateSource(Protocol):
    def find(self, name: str) -> ProvisioningTemplate | None: ...


class TemplateDirectory:
    """Templates found as `<dir>/<name>.json` (first directory wins)."""

    def __init__(self, directories: Sequence[Path]) -> None:
        self._dirs = list(directories)

    def find(self, name: str) -> ProvisioningTemplate | None:
        if _NAME_RE.fullmatch(name) is None:
            return None
        for directory in self._dirs:
            path = directory / f"{name}.json"
            if path.is_file():
                template = ProvisioningTemplate.from_document(json.loads(path.read_text()), name)
                return template if template.name == name else None
        return None


def plan(
    template: ProvisioningTemplate, parameters: dict[str, Any], certificate: dict[str, str]
) -> ProvisioningPlan:
    """Resolve the template's resources; `certificate` holds the `AWS::IoT::Certificate::*`
    pseudo parameters (Id, CommonName, ...)."""
    body = template.body
    values = _parameter_values(body.get("Parameters") or {}, parameters)
    values.update({f"AWS::IoT::Certificate::{k}": v for k, v in certificate.items()})
    ctx = _Context(values, body.get("Mappings") or {})
    thing = policy = None
    status = "ACTIVE"
    for resource in (body.get("Resources") or {}).values():
        kind = resource.get("Type")
        props = ctx.resolve(resource.get("Properties") or {})
        if kind == "AWS::IoT::Thing":
            thing = props
        elif kind == "AWS::IoT::Certificate":
            status = str(props.get("Status", "ACTIVE")).upper()
        elif kind == "AWS::IoT::Policy":
            policy = props
    if thing is None or not isinstance(thing.get("ThingName"), str):
        raise TemplateError("the template has no AWS::IoT::Thing resource with a ThingName")
    if status not in {"ACTIVE", "INACTIVE"}:
        raise TemplateError(f"certificate status {status!r} is not ACTIVE or INACTIVE")
    policy_name, policy_document = _policy(template.name, policy)
    attributes = thing.get("AttributePayload") or {}
    return ProvisioningPlan(
        thing_name=thing["ThingName"],
        attributes={str(k): str(v) for k, v in attributes.items()},
        thing_type=thing.get("ThingTypeName"),
        thing_groups=tuple(thing.get("ThingGroups") or ()),
        certificate_status=status,
        policy_name=policy_name,
        policy_document=policy_document,
        device_configuration=ctx.resolve(body.get("DeviceConfiguration") or {}),
    )


def _parameter_values(declared: JsonObject, given: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, spec in declared.items():
        if name.startswith("AWS::"):
            continue
        if name in given:
            values[name] = given[name]
        elif isinstance(spec, dict) and "Default" in spec:
            values[name] = spec["Default"]
        else:
            raise TemplateError(f"missing template parameter: {name}")
    return values


def _policy(template_name: str, props: JsonObject | None) -> tuple[str | None, str | None]:
    if props is None:
        return None, None
    document = props.get("PolicyDocument")
    if isinstance(document, dict):
        document = json.dumps(document)
    name = props.get("PolicyName")
    if name is None and document is not None:
        digest = hashlib.sha256(document.encode()).hexdigest()[:16]
        name = f"{template_name}-{digest}"
    return name, document


@dataclass(frozen=True)
class _Context:
    values: dict[str, Any]
    mappings: JsonObject

    def resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self.resolve(item) for item in node]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (fn, arg), *_ = node.items()
            if fn == "Ref" or fn.startswith("Fn::"):
                return self._function(fn, arg)
        return {k: self.resolve(v) for k, v in node.items()}

    def _function(self, fn: str, arg: Any) -> Any:
        try:
            return self._apply(fn, arg)
        except TemplateError:
            raise
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise TemplateError(f"{fn} cannot be evaluated: {exc!r}") from None

    def _apply(self, fn: str, arg: Any) -> Any:
        if fn == "Ref":
            if arg not in self.values:
                raise TemplateError(f"unresolved reference: {arg}")
            return self.values[arg]
        args = self.resolve(arg)
        if fn == "Fn::Join":
            delimiter, items = args
            return str(delimiter).join(str(item) for item in items)
        if fn == "Fn::Sub":
            text, extra = (args, {}) if isinstance(args, str) else (args[0], args[1])
            scope = {**self.values, **extra}
            return _SUB_RE.sub(lambda m: str(scope.get(m[1], m[0])), text)
        if fn == "Fn::Select":
            index, items = args
            return items[int(index)]
        if fn == "Fn::Split":
            delimiter, text = args
            return str(text).split(str(delimiter))
        if fn == "Fn::FindInMap":
            mapping, first, second = args
            return self.mappings[mapping][first][second]
        raise TemplateError(f"unsupported template function: {fn}")
