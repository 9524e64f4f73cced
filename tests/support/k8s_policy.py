"""The rules every rendered workload must keep (what an SRE checks before signing off).

`violations(workload)` names each missing probe, resource bound and securityContext setting;
tests/k8s runs it over every overlay, and proves it by removing fields one at a time.
"""

from __future__ import annotations

from typing import Any

from support.k8s_manifests import pod_spec

Obj = dict[str, Any]
NO_PROBES = "msm.io/no-probes"  # pod annotation: why a workload has nothing to probe


def _container_rules(
    c: Obj, pod: Obj, where: str, *, probes: bool, init: bool = False
) -> list[str]:
    out: list[str] = []
    res = c.get("resources") or {}
    for part in ("requests", "limits"):
        for resource in ("cpu", "memory"):
            if not (res.get(part) or {}).get(resource):
                out.append(f"{where}: resources.{part}.{resource} missing")
    sc = c.get("securityContext") or {}
    psc = pod.get("securityContext") or {}
    if sc.get("allowPrivilegeEscalation") is not False:
        out.append(f"{where}: securityContext.allowPrivilegeEscalation must be false")
    if sc.get("readOnlyRootFilesystem") is not True:
        out.append(f"{where}: securityContext.readOnlyRootFilesystem must be true")
    if sc.get("privileged"):
        out.append(f"{where}: securityContext.privileged must not be set")
    if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
        out.append(f"{where}: securityContext.capabilities.drop must contain ALL")
    if (sc.get("capabilities") or {}).get("add"):
        out.append(f"{where}: securityContext.capabilities.add must be empty")
    if sc.get("runAsNonRoot", psc.get("runAsNonRoot")) is not True:
        out.append(f"{where}: securityContext.runAsNonRoot must be true")
    if not sc.get("runAsUser", psc.get("runAsUser")):
        out.append(f"{where}: securityContext.runAsUser must be a non-zero uid")
    seccomp = (sc.get("seccompProfile") or psc.get("seccompProfile") or {}).get("type")
    if seccomp != "RuntimeDefault":
        out.append(f"{where}: securityContext.seccompProfile.type must be RuntimeDefault")
    image = c.get("image", "")
    if image.endswith(":latest"):
        out.append(f"{where}: image {image} uses :latest")
    if probes:
        for probe in ("livenessProbe", "readinessProbe"):
            if not c.get(probe):
                out.append(f"{where}: {probe} missing")
    if not init and "msm-" in image.rsplit("/", 1)[-1]:
        mounts = {m["mountPath"] for m in c.get("volumeMounts") or []}
        if "/tmp" not in mounts:
            out.append(f"{where}: no writable /tmp (emptyDir) under a read-only root filesystem")
    return out


def violations(workload: Obj) -> list[str]:
    """Every rule this Deployment/StatefulSet/... breaks, one line each (empty: none)."""
    name = f"{workload['kind']}/{workload['metadata']['name']}"
    pod = pod_spec(workload)
    template = workload["spec"].get("template") or {}
    annotations = (template.get("metadata") or {}).get("annotations") or {}
    probes = not annotations.get(NO_PROBES, "").strip()
    out: list[str] = []
    psc = pod.get("securityContext") or {}
    if psc.get("runAsNonRoot") is not True:
        out.append(f"{name}: pod securityContext.runAsNonRoot must be true")
    if (psc.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
        out.append(f"{name}: pod securityContext.seccompProfile.type must be RuntimeDefault")
    if pod.get("automountServiceAccountToken") is not False:
        out.append(f"{name}: automountServiceAccountToken must be false")
    if pod.get("terminationGracePeriodSeconds") is None:
        out.append(f"{name}: terminationGracePeriodSeconds missing")
    for flag in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(flag):
            out.append(f"{name}: {flag} must not be set")
    for c in pod.get("initContainers") or []:
        out += _container_rules(c, pod, f"{name} init {c['name']}", probes=False, init=True)
    for c in pod["containers"]:
        out += _container_rules(c, pod, f"{name} {c['name']}", probes=probes)
    return out
