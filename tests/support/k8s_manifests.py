"""Render the Kustomize overlays in k8s/ offline and load the CRD schemas kept in k8s/crds.

`kubectl kustomize` (Kustomize v5) renders; it is the machine's kubectl, else the one
`make k8s-tools` installs under .local/tools/k8s, else MSM_KUBECTL. Without any of them the
k8s tests are skipped with the reason printed (pytest -ra).
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from support.services import ROOT

K8S = ROOT / "k8s"
CRDS = K8S / "crds"
OVERLAYS = ("dev", "prod", "prod-ingress")
# The oldest Kubernetes minor these manifests support (kubernetes-validate's bundled schemas).
OLDEST_KUBERNETES = "1.28"
LOCAL_KUBECTL = ROOT / ".local" / "tools" / "k8s" / "bin" / "kubectl"

Obj = dict[str, Any]


class NoKubectl(RuntimeError):
    """No kubectl with Kustomize v5 on this machine (the reason is the message)."""


def _kustomize_major(kubectl: str) -> int | None:
    try:
        out = subprocess.run(
            [kubectl, "version", "--client"], capture_output=True, text=True, timeout=30
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = re.search(r"Kustomize Version: v(\d+)", out)
    return int(found.group(1)) if found else None


@functools.cache
def kubectl() -> str:
    """A kubectl whose built-in Kustomize is v5 or newer."""
    tried = []
    for candidate in (os.environ.get("MSM_KUBECTL"), shutil.which("kubectl"), str(LOCAL_KUBECTL)):
        if not candidate or not Path(candidate).exists():
            continue
        major = _kustomize_major(candidate)
        if major is not None and major >= 5:
            return candidate
        tried.append(f"{candidate} (Kustomize {major or 'unknown'})")
    raise NoKubectl(
        "no kubectl with Kustomize v5: "
        + (", ".join(tried) or "none on PATH or in .local/tools/k8s")
        + "; `make k8s-tools` installs one"
    )


@functools.cache
def _render(path: str) -> tuple[Obj, ...]:
    done = subprocess.run(
        [kubectl(), "kustomize", path], capture_output=True, text=True, timeout=120, check=False
    )
    if done.returncode != 0:
        raise AssertionError(f"kubectl kustomize {path} failed:\n{done.stderr}")
    return tuple(d for d in yaml.safe_load_all(done.stdout) if d)


def render(overlay: str) -> list[Obj]:
    """The overlay's objects, rendered fresh once per session (callers get their own copies)."""
    return json.loads(json.dumps(_render(str(K8S / "overlays" / overlay))))


def render_dir(path: Path) -> list[Obj]:
    return json.loads(json.dumps(_render(str(path))))


def group_of(obj: Obj) -> str:
    api = obj["apiVersion"]
    return api.split("/")[0] if "/" in api else ""


@functools.cache
def crd_schemas() -> dict[tuple[str, str, str], Obj]:
    """(group, version, kind) -> openAPIV3Schema, from k8s/crds/*.json."""
    found: dict[tuple[str, str, str], Obj] = {}
    for path in sorted(CRDS.glob("*.json")):
        crd = json.loads(path.read_text())
        for version, schema in crd["versions"].items():
            found[crd["group"], version, crd["kind"]] = schema
    return found


def crd_groups() -> set[str]:
    return {group for group, _, _ in crd_schemas()}


def by_kind(objs: list[Obj], kind: str) -> dict[str, Obj]:
    return {o["metadata"]["name"]: o for o in objs if o["kind"] == kind}


WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob")


def pod_spec(obj: Obj) -> Obj:
    if obj["kind"] == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return obj["spec"]["template"]["spec"]


def workloads(objs: list[Obj]) -> list[Obj]:
    return [o for o in objs if o["kind"] in WORKLOAD_KINDS]


def container_env(objs: list[Obj], container: Obj) -> dict[str, str]:
    """What a container sees: its ConfigMaps (envFrom), then literal env; references elided."""
    config_maps = by_kind(objs, "ConfigMap")
    seen: dict[str, str] = {}
    for ref in container.get("envFrom", []):
        seen |= config_maps[ref["configMapRef"]["name"]]["data"]
    seen |= {e["name"]: e.get("value", "<from a reference>") for e in container.get("env", [])}
    return seen


def referenced_secrets(objs: list[Obj]) -> set[str]:
    """Secrets the objects need (optional env references apart)."""
    found = set()
    for w in workloads(objs):
        pod = pod_spec(w)
        for c in pod["containers"] + pod.get("initContainers", []):
            for e in c.get("env", []):
                ref = (e.get("valueFrom") or {}).get("secretKeyRef")
                if ref and not ref.get("optional"):
                    found.add(ref["name"])
        for v in pod.get("volumes", []):
            if "secret" in v:
                found.add(v["secret"]["secretName"])
    for so in by_kind(objs, "TriggerAuthentication").values():
        found |= {r["name"] for r in so["spec"].get("secretTargetRef", [])}
    for user in by_kind(objs, "User").values():
        found.add(user["spec"]["importCredentialsSecret"]["name"])
    for mdb in by_kind(objs, "MongoDBCommunity").values():
        found |= {u["passwordSecretRef"]["name"] for u in mdb["spec"]["users"]}
    for gw in by_kind(objs, "Gateway").values():
        for listener in gw["spec"]["listeners"]:
            found |= {r["name"] for r in (listener.get("tls") or {}).get("certificateRefs", [])}
    for ing in by_kind(objs, "Ingress").values():
        found |= {t["secretName"] for t in ing["spec"].get("tls", [])}
    return found


def produced_secrets(objs: list[Obj]) -> set[str]:
    """Secrets made inside the overlay: ExternalSecret targets, the MongoDB operator's."""
    made = {e["spec"]["target"]["name"] for e in by_kind(objs, "ExternalSecret").values()}
    for mdb in by_kind(objs, "MongoDBCommunity").values():
        made |= {u["connectionStringSecretName"] for u in mdb["spec"]["users"]}
    return made
