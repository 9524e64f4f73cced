"""Inside the namespace, the NetworkPolicies let exactly DESIGN's flows through, no more."""

from __future__ import annotations

import pytest
from support.k8s_manifests import by_kind, pod_spec, render, workloads
from support.k8s_netpol import allowed

# The data-store pods the operators create in prod (labels as the operators set them).
OPERATOR_PODS = {
    "msm-mongo": ({"app": "msm-mongo-svc"}, [27017]),
    "msm-rabbitmq": (
        {"app.kubernetes.io/name": "msm-rabbitmq"},
        [5672, 15672, 15692, 4369, 25672, 35672],
    ),
}
SERVICES = ("msm-api", "msm-ingest", "msm-commander", "msm-provisioner")
STORES = {("msm-mongo", 27017), ("msm-rabbitmq", 5672)}
COMMON = {(s, d, p) for s in SERVICES for d, p in STORES} | {
    ("msm-provisioner", "msm-api", 8080),  # JWKS of the access tokens
}
EXPECTED = {
    "prod": COMMON
    | {("msm-mongo", "msm-mongo", 27017)}
    | {("msm-rabbitmq", "msm-rabbitmq", p) for p in (4369, 25672, 35672)},
    "dev": COMMON
    | {
        (s, "msm-iot", 8883)
        for s in ("msm-ingest", "msm-commander", "msm-provisioner", "msm-metersim")
    }
    | {(s, "msm-iot", 5056) for s in ("msm-ingest", "msm-provisioner")}
    | {("msm-iot", "msm-provisioner", 5057), ("msm-provisioner", "msm-moto", 5055)},
}


def pods(overlay: str) -> dict[str, tuple[dict, list[int]]]:
    found = {}
    for w in workloads(render(overlay)):
        ports = [p["containerPort"] for c in pod_spec(w)["containers"] for p in c.get("ports", [])]
        found[w["metadata"]["name"]] = (w["spec"]["template"]["metadata"]["labels"], ports)
    if overlay == "prod":
        found |= OPERATOR_PODS
    return found


@pytest.mark.parametrize("overlay", ["prod", "dev"])
def test_only_designed_flows_are_open_between_pods(overlay: str) -> None:
    policies = list(by_kind(render(overlay), "NetworkPolicy").values())
    everyone = pods(overlay)
    open_flows = {
        (src, dst, port)
        for src, (src_labels, _) in everyone.items()
        for dst, (dst_labels, ports) in everyone.items()
        for port in ports
        if allowed(policies, src_labels, dst_labels, port)
    }
    assert open_flows == EXPECTED[overlay]


def test_the_flow_check_sees_a_policy_that_opens_too_much() -> None:
    policies = list(by_kind(render("prod"), "NetworkPolicy").values())
    console = pods("prod")["msm-console"][0]
    mongo = OPERATOR_PODS["msm-mongo"][0]
    assert not allowed(policies, console, mongo, 27017)
    wide = {
        "spec": {
            "podSelector": {},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{}],
            "egress": [{}],
        }
    }
    assert allowed([*policies, wide], console, mongo, 27017)
