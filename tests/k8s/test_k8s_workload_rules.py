"""The workload rules (probes, requests and limits, securityContext, drain time, disruption
budget, spread, metrics) hold in every overlay, and the check notices each one removed."""

from __future__ import annotations

import copy
from collections.abc import Callable

import pytest
from support.k8s_manifests import OVERLAYS, by_kind, container_env, pod_spec, render, workloads
from support.k8s_policy import violations

SERVICES = ("msm-api", "msm-ingest", "msm-commander", "msm-provisioner", "msm-console")
METRICS = {"msm-api": 9103, "msm-ingest": 9101, "msm-commander": 9102, "msm-provisioner": 9104}


def msm_workloads(objs: list[dict]) -> dict[str, dict]:
    return {w["metadata"]["name"]: w for w in workloads(objs) if w["metadata"]["name"] in SERVICES}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_workload_keeps_the_rules(overlay: str) -> None:
    objs = render(overlay)
    assert set(msm_workloads(objs)) == set(SERVICES)
    assert [v for w in workloads(objs) for v in violations(w)] == []


def _container(w: dict) -> dict:
    return pod_spec(w)["containers"][0]


Mutation = Callable[[dict], None]
MUTATIONS: dict[str, Mutation] = {
    "livenessProbe": lambda w: _container(w).pop("livenessProbe"),
    "readinessProbe": lambda w: _container(w).pop("readinessProbe"),
    "resources.limits.cpu": lambda w: _container(w)["resources"]["limits"].pop("cpu"),
    "resources.limits.memory": lambda w: _container(w)["resources"]["limits"].pop("memory"),
    "resources.requests.cpu": lambda w: _container(w)["resources"]["requests"].pop("cpu"),
    "resources.requests.memory": lambda w: _container(w)["resources"]["requests"].pop("memory"),
    "allowPrivilegeEscalation": lambda w: _container(w)["securityContext"].pop(
        "allowPrivilegeEscalation"
    ),
    "readOnlyRootFilesystem": lambda w: _container(w)["securityContext"].pop(
        "readOnlyRootFilesystem"
    ),
    "capabilities.drop": lambda w: _container(w)["securityContext"].pop("capabilities"),
    "runAsNonRoot": lambda w: (
        _container(w)["securityContext"].pop("runAsNonRoot"),
        pod_spec(w)["securityContext"].pop("runAsNonRoot"),
    ),
    "runAsUser": lambda w: (
        _container(w)["securityContext"].pop("runAsUser"),
        pod_spec(w)["securityContext"].pop("runAsUser"),
    ),
    "seccompProfile": lambda w: (
        _container(w)["securityContext"].pop("seccompProfile"),
        pod_spec(w)["securityContext"].pop("seccompProfile"),
    ),
    "terminationGracePeriodSeconds": lambda w: pod_spec(w).pop("terminationGracePeriodSeconds"),
    "automountServiceAccountToken": lambda w: pod_spec(w).pop("automountServiceAccountToken"),
    "/tmp": lambda w: _container(w).__setitem__(
        "volumeMounts", [m for m in _container(w)["volumeMounts"] if m["mountPath"] != "/tmp"]
    ),
}


@pytest.mark.parametrize("field", list(MUTATIONS))
@pytest.mark.parametrize("service", ["msm-api", "msm-ingest"])
def test_removing_one_field_is_a_violation_that_names_it(service: str, field: str) -> None:
    workload = copy.deepcopy(msm_workloads(render("prod"))[service])
    assert violations(workload) == []
    MUTATIONS[field](workload)
    found = violations(workload)
    assert found, f"removing {field} went unnoticed"
    assert any(field.rsplit(".", maxsplit=1)[-1] in v for v in found), found


def test_a_workload_may_go_without_probes_only_with_a_stated_reason() -> None:
    sim = copy.deepcopy(by_kind(render("dev"), "Deployment")["msm-metersim"])
    assert violations(sim) == []
    sim["spec"]["template"]["metadata"]["annotations"]["msm.io/no-probes"] = " "
    assert any("livenessProbe" in v for v in violations(sim))


def _selects(selector: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_service_has_a_disruption_budget_spread_and_metrics(overlay: str) -> None:
    objs = render(overlay)
    pdbs = by_kind(objs, "PodDisruptionBudget").values()
    monitors = by_kind(objs, "ServiceMonitor")
    services = by_kind(objs, "Service")
    for name, w in msm_workloads(objs).items():
        labels = w["spec"]["template"]["metadata"]["labels"]
        assert any(_selects(p["spec"]["selector"], labels) for p in pdbs), name
        keys = {t["topologyKey"] for t in pod_spec(w).get("topologySpreadConstraints", [])}
        assert keys == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}, name
        if name in METRICS:
            port_name = monitors[name]["spec"]["endpoints"][0]["port"]
            port = next(p for p in services[name]["spec"]["ports"] if p["name"] == port_name)
            assert port["port"] == METRICS[name], name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_probes_and_services_point_at_declared_container_ports(overlay: str) -> None:
    objs = render(overlay)
    for w in workloads(objs):
        for c in pod_spec(w)["containers"]:
            names = {p["name"] for p in c.get("ports", [])}
            numbers = {p["containerPort"] for p in c.get("ports", [])}
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                action = (c.get(probe) or {}).get("httpGet") or (c.get(probe) or {}).get(
                    "tcpSocket"
                )
                if action:
                    assert action["port"] in names | numbers, (w["metadata"]["name"], probe)
    pods = [
        (w["spec"]["template"]["metadata"]["labels"], pod_spec(w)["containers"])
        for w in workloads(objs)
    ]
    for svc in by_kind(objs, "Service").values():
        selected = [
            cs for labels, cs in pods if _selects({"matchLabels": svc["spec"]["selector"]}, labels)
        ]
        assert selected, f"Service {svc['metadata']['name']} selects no pod"
        declared = {p.get("name") for cs in selected for c in cs for p in c.get("ports", [])}
        for port in svc["spec"]["ports"]:
            assert port["targetPort"] in declared, (svc["metadata"]["name"], port)


DRAIN_SETTING = {
    "msm-api": "MSM_API_GRACEFUL_TIMEOUT_S",
    "msm-provisioner": "MSM_PROVISIONER_GRACEFUL_TIMEOUT_S",
    "msm-ingest": "MSM_INGEST_SHUTDOWN_TIMEOUT_S",
}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_termination_grace_outlasts_each_services_drain(overlay: str) -> None:
    objs = render(overlay)
    for name, setting in DRAIN_SETTING.items():
        w = msm_workloads(objs)[name]
        drain = float(container_env(objs, pod_spec(w)["containers"][0])[setting])
        grace = pod_spec(w)["terminationGracePeriodSeconds"]
        assert drain + 5 <= grace <= drain + 30, (name, drain, grace)
    # The commander joins its consumer threads for up to 10 s each (Commander.stop).
    assert pod_spec(msm_workloads(objs)["msm-commander"])["terminationGracePeriodSeconds"] >= 30


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_autoscaled_workloads_leave_the_replica_count_to_their_scaler(overlay: str) -> None:
    objs = render(overlay)
    scaled = {
        h["spec"]["scaleTargetRef"]["name"]
        for h in by_kind(objs, "HorizontalPodAutoscaler").values()
    }
    scaled |= {s["spec"]["scaleTargetRef"]["name"] for s in by_kind(objs, "ScaledObject").values()}
    assert {"msm-api", "msm-commander"} <= scaled
    assert [
        w["metadata"]["name"]
        for w in workloads(objs)
        if w["metadata"]["name"] in scaled and "replicas" in w["spec"]
    ] == []
