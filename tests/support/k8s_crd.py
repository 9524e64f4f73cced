"""Validate custom resources against the openAPIV3Schema of their CRDs (k8s/crds), as strictly
as the API server's strict field validation: an unknown field is an error, not silently pruned."""

from __future__ import annotations

import copy
import functools
from typing import Any

import jsonschema

from support.k8s_manifests import crd_schemas, group_of

Obj = dict[str, Any]


def _strict(schema: Any) -> Any:
    """OpenAPI v3 (structural CRD schema) -> JSON Schema that refuses unknown fields."""
    if isinstance(schema, list):
        return [_strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _strict(v) for k, v in schema.items()}
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    if out.get("nullable") and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    return out


@functools.cache
def _validator(group: str, version: str, kind: str) -> jsonschema.Validator | None:
    schema = crd_schemas().get((group, version, kind))
    if schema is None:
        return None
    strict = _strict(copy.deepcopy(schema))
    # metadata is the API server's, not the CRD's (its schema says only "object").
    strict.setdefault("properties", {})["metadata"] = {"type": "object"}
    strict["properties"].setdefault("apiVersion", {"type": "string"})
    strict["properties"].setdefault("kind", {"type": "string"})
    return jsonschema.Draft7Validator(strict)


def errors(obj: Obj) -> list[str]:
    """What is wrong with this custom resource (empty: valid); no schema is itself an error."""
    version = obj["apiVersion"].split("/")[-1]
    name = f"{obj['kind']}/{obj['metadata']['name']} ({obj['apiVersion']})"
    validator = _validator(group_of(obj), version, obj["kind"])
    if validator is None:
        return [f"{name}: no CRD schema in k8s/crds for this group/version/kind"]
    return [
        f"{name}: {'/'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}"
        for e in validator.iter_errors(obj)
    ]
