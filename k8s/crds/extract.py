"""Refresh k8s/crds/*.json from upstream CRD files: keep only each version's openAPIV3Schema.

Usage (needs local git mirrors of the upstream repositories; the committed JSON is what the
offline checks read, so this runs only when an operator version is bumped):

    python k8s/crds/extract.py <mirror-root>

where <mirror-root>/<owner>+<name>/repo is a bare git clone. Sources and versions: SOURCES below
and k8s/crds/README.md.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent

Source = tuple[str, str, str, tuple[str, ...]]  # repository, tag, CRD file, versions to keep


def _crds(repo: str, tag: str, keep: str, path: str, *plurals: str) -> list[Source]:
    """The CRD file `path` of `repo` at `tag`, or one per plural (`path` names it `{plural}`);
    from each, the version `keep`."""
    return [(repo, tag, path.format(plural=plural), (keep,)) for plural in plurals or ("",)]


SOURCES: tuple[Source, ...] = (
    *_crds(
        "mongodb/mongodb-kubernetes-operator",
        "v0.13.0",
        "v1",
        "config/crd/bases/mongodbcommunity.mongodb.com_mongodbcommunity.yaml",
    ),
    *_crds(
        "rabbitmq/cluster-operator",
        "v2.22.3",
        "v1beta1",
        "config/crd/bases/rabbitmq.com_rabbitmqclusters.yaml",
    ),
    *_crds(
        "rabbitmq/messaging-topology-operator",
        "v1.20.1",
        "v1beta1",
        "config/crd/bases/rabbitmq.com_{plural}.yaml",
        "users",
        "permissions",
    ),
    *_crds(
        "kubernetes-sigs/gateway-api",
        "v1.6.1",
        "v1",
        "config/crd/standard/gateway.networking.k8s.io_{plural}.yaml",
        "gatewayclasses",
        "gateways",
        "httproutes",
    ),
    *_crds(
        "kedacore/keda",
        "v2.20.2",
        "v1alpha1",
        "config/crd/bases/keda.sh_{plural}.yaml",
        "scaledobjects",
        "triggerauthentications",
    ),
    *_crds(
        "prometheus-operator/prometheus-operator",
        "v0.93.0",
        "v1",
        "example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml",
    ),
    *_crds(
        "external-secrets/external-secrets",
        "v2.9.0",
        "v1",
        "config/crds/bases/external-secrets.io_{plural}.yaml",
        "externalsecrets",
        "secretstores",
    ),
    *_crds(
        "envoyproxy/gateway",
        "v1.9.0",
        "v1alpha1",
        "charts/gateway-helm/charts/crds/crds/generated/gateway.envoyproxy.io_{plural}.yaml",
        "backendtrafficpolicies",
        "clienttrafficpolicies",
        "envoyproxies",
    ),
)


def extract(mirrors: Path) -> None:
    for repo, tag, path, keep in SOURCES:
        git_dir = mirrors / repo.replace("/", "+") / "repo"
        text = subprocess.run(
            ["git", f"--git-dir={git_dir}", "show", f"{tag}:{path}"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        crd = yaml.safe_load(text)
        spec = crd["spec"]
        out = {
            "source": f"https://github.com/{repo}/blob/{tag}/{path}",
            "group": spec["group"],
            "kind": spec["names"]["kind"],
            "versions": {
                v["name"]: v["schema"]["openAPIV3Schema"]
                for v in spec["versions"]
                if v["name"] in keep
            },
        }
        missing = set(keep) - set(out["versions"])
        if missing:
            raise SystemExit(f"{path}@{tag}: no version {sorted(missing)}")
        name = f"{spec['group']}_{spec['names']['plural']}.json"
        (HERE / name).write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
        print(f"{name}: {out['kind']} {sorted(out['versions'])} from {repo}@{tag}")


if __name__ == "__main__":
    extract(Path(sys.argv[1]))
