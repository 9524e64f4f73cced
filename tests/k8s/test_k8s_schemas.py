"""Every overlay renders, every built-in object is valid Kubernetes of the oldest supported
version (kubernetes-validate --strict), every custom resource is valid for its CRD's schema."""

from __future__ import annotations

import copy

import kubernetes_validate
import pytest
from support import k8s_crd
from support.k8s_manifests import (
    K8S,
    OLDEST_KUBERNETES,
    OVERLAYS,
    by_kind,
    crd_groups,
    group_of,
    render,
    render_dir,
)

NAMESPACE = {"dev": "msm-dev", "prod": "msm", "prod-ingress": "msm"}
CLUSTER_SCOPED = {"Namespace", "GatewayClass", "ClusterRole", "ClusterRoleBinding"}


def builtin_errors(obj: dict) -> list[str]:
    name = f"{obj['kind']}/{obj['metadata']['name']}"
    try:
        kubernetes_validate.validate(obj, OLDEST_KUBERNETES, strict=True)
    except kubernetes_validate.ValidationError as exc:
        path = "/".join(str(p) for p in exc.path)
        return [f"{name}: {path or '<root>'}: {exc.message}"]
    except kubernetes_validate.SchemaNotFoundError:
        return [f"{name}: {obj['apiVersion']} is not in Kubernetes {OLDEST_KUBERNETES}"]
    return []


def all_errors(objs: list[dict]) -> list[str]:
    custom = crd_groups()
    out: list[str] = []
    for obj in objs:
        out += k8s_crd.errors(obj) if group_of(obj) in custom else builtin_errors(obj)
    return out


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_renders_into_its_namespace_without_duplicates(overlay: str) -> None:
    objs = render(overlay)
    keys = [(o["kind"], o["metadata"]["name"]) for o in objs]
    assert len(keys) == len(set(keys)), "duplicate objects"
    stray = [
        k
        for o, k in zip(objs, keys, strict=True)
        if o["kind"] not in CLUSTER_SCOPED and o["metadata"].get("namespace") != NAMESPACE[overlay]
    ]
    assert stray == []
    assert set(by_kind(objs, "Namespace")) == {NAMESPACE[overlay]}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_is_valid_for_its_schema(overlay: str) -> None:
    assert all_errors(render(overlay)) == []


def test_cluster_prerequisites_are_valid() -> None:
    objs = render_dir(K8S / "cluster")
    assert [o["kind"] for o in objs] == ["GatewayClass"]
    assert all_errors(objs) == []


def test_a_misspelt_or_mistyped_field_is_caught_in_builtins_and_custom_resources() -> None:
    objs = render("prod")
    deployment = copy.deepcopy(by_kind(objs, "Deployment")["msm-api"])
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessprobe"] = {}
    assert any("livenessprobe" in e for e in builtin_errors(deployment))
    pdb = copy.deepcopy(by_kind(objs, "PodDisruptionBudget")["msm-api"])
    pdb["apiVersion"] = "policy/v1beta1"  # removed in 1.25
    assert builtin_errors(pdb) != []

    scaled = copy.deepcopy(by_kind(objs, "ScaledObject")["msm-commander"])
    scaled["spec"]["minReplicaCont"] = 2
    assert any("minReplicaCont" in e for e in k8s_crd.errors(scaled))
    mongo = copy.deepcopy(by_kind(objs, "MongoDBCommunity")["msm-mongo"])
    mongo["spec"]["members"] = "three"
    assert any("members" in e for e in k8s_crd.errors(mongo))
    policy = copy.deepcopy(by_kind(objs, "BackendTrafficPolicy")["msm-api"])
    policy["spec"]["rateLimit"]["global"]["rules"][0]["limit"]["unit"] = "Fortnight"
    assert any("Fortnight" in e for e in k8s_crd.errors(policy))
    unknown = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    assert all_errors([unknown]) != []
