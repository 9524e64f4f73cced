"""The manifests speak the services' language: every MSM_* variable they set is one a settings
class reads, the gateway routes what DESIGN says (and nothing else), secrets are referenced, never
committed, and each referenced Secret is produced by something in the overlay (or documented)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from msm_api.settings import ApiSettings
from msm_commander.settings import CommanderSettings
from msm_common.adapters import amqp_topology
from msm_common.settings import CommonSettings, env_name
from msm_ingest.settings import IngestSettings
from msm_localiot.settings import LocaliotSettings
from msm_metersim.settings import MetersimSettings
from msm_provisioner.settings import ProvisionerSettings
from support.k8s_manifests import (
    K8S,
    OVERLAYS,
    by_kind,
    container_env,
    pod_spec,
    produced_secrets,
    referenced_secrets,
    render,
    workloads,
)

READER = {
    "msm-api": ApiSettings,
    "msm-ingest": IngestSettings,
    "msm-commander": CommanderSettings,
    "msm-provisioner": ProvisionerSettings,
    "localiot": LocaliotSettings,
    "metersim": MetersimSettings,
}
EXTRA_NAMES = {"MSM_SECRETS_DIR"}  # read with os.environ by the api (secrets_dir)


def setting_names(cls: type[CommonSettings]) -> set[str]:
    """The variables `cls` reads, not counting the old names it still accepts for one release:
    a manifest uses the current ones."""
    return EXTRA_NAMES | {env_name(cls, field) for field in cls.model_fields}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_msm_variable_is_read_by_the_service_it_is_given_to(overlay: str) -> None:
    objs = render(overlay)
    unknown = []
    for w in workloads(objs):
        for c in pod_spec(w)["containers"]:
            cls = READER.get(w["metadata"]["name"]) or READER.get(c["name"])
            env = [k for k in container_env(objs, c) if k.startswith("MSM_")]
            if cls is None:
                assert env == [], f"{w['metadata']['name']}/{c['name']}: no settings class"
                continue
            known = setting_names(cls)
            unknown += [f"{w['metadata']['name']}/{c['name']}: {k}" for k in env if k not in known]
    assert unknown == []


def test_the_check_knows_a_misspelt_setting() -> None:
    assert "MSM_INGEST_SHARED_GROUP" in setting_names(IngestSettings)
    assert "MSM_INGEST_SHAREDGROUP" not in setting_names(IngestSettings)
    assert "MSM_API_TRUSTED_PROXIES" in setting_names(ApiSettings)
    assert "MSM_API_TRUSTED_PROXIES" not in setting_names(CommanderSettings)
    assert "MSM_TRUSTED_PROXIES" not in setting_names(ApiSettings)  # the api's old name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_services_run_in_production_mode_behind_one_trusted_proxy(overlay: str) -> None:
    # Generated ConfigMaps carry a content hash after their name (a change rolls the pods).
    data = {
        name.rsplit("-", 1)[0]: cm["data"]
        for name, cm in by_kind(render(overlay), "ConfigMap").items()
    }
    env = "local" if overlay == "dev" else "production"  # dev: a laptop without KMS
    assert data["msm-common"]["MSM_ENV"] == env
    assert data["msm-common"]["MSM_BIND_HOST"] == "0.0.0.0"
    assert data["msm-api"]["MSM_API_TRUSTED_PROXIES"] == "1"


SECRETISH = re.compile(r"(PASSWORD|SECRET|TOKEN|_URI|_URL)$")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_secret_value_is_committed(overlay: str) -> None:
    objs = render(overlay)
    assert by_kind(objs, "Secret") == {}
    for cm in by_kind(objs, "ConfigMap").values():
        for key, value in (cm.get("data") or {}).items():
            if re.search(r"(PASSWORD|_SECRET|_TOKEN|MONGO_URI|AMQP_URL)$", key):
                pytest.fail(f"ConfigMap {cm['metadata']['name']} sets {key}")
            assert "@" not in value or "://" not in value, f"credentials in {key}={value}"
    for w in workloads(objs):
        for c in pod_spec(w)["containers"]:
            for e in c.get("env", []):
                if SECRETISH.search(e["name"]) and "value" in e:
                    assert not e["value"] or e["value"].startswith("http"), (c["name"], e["name"])


@pytest.mark.parametrize("overlay", ["prod", "prod-ingress"])
def test_prod_secrets_come_from_external_secrets_or_the_operator(overlay: str) -> None:
    objs = render(overlay)
    missing = referenced_secrets(objs) - produced_secrets(objs)
    assert missing == {"msm-gateway-tls"}  # the gateway's certificate: cert-manager (README)


def test_commander_scaling_watches_the_queue_the_commander_consumes() -> None:
    scaled = by_kind(render("prod"), "ScaledObject")["msm-commander"]
    assert scaled["spec"]["triggers"][0]["metadata"]["queueName"] == (
        CommanderSettings.model_fields["requests_queue"].default
    )
    assert "HorizontalPodAutoscaler" not in {
        o["kind"] for o in render("prod") if o["metadata"]["name"] == "msm-commander"
    }
    assert "msm-commander" in by_kind(render("prod-ingress"), "HorizontalPodAutoscaler")


def test_rabbitmq_accounts_may_use_every_name_the_services_declare() -> None:
    names = [n for n, _ in amqp_topology.EXCHANGES] + [
        amqp_topology.DEAD_LETTER_QUEUE,
        amqp_topology.COMMAND_REQUESTS_QUEUE,
        CommanderSettings.model_fields["acks_queue"].default,
        CommanderSettings.model_fields["presence_queue"].default,
    ]
    for perm in by_kind(render("prod"), "Permission").values():
        for right in ("configure", "write", "read"):
            pattern = re.compile(perm["spec"]["permissions"][right])
            assert all(pattern.search(n) for n in names), (perm["metadata"]["name"], right)
            assert not pattern.search("amq.rabbitmq.trace")


SECRET_PLACEHOLDER = {
    "connectionString.standard": "mongodb://svc:pw@msm-mongo-svc:27017/admin?replicaSet=msm-mongo",
    "url": "amqp://svc:pw@msm-rabbitmq:5672/%2F",
    "hmac-secret": "h" * 32,
    "token": "t" * 32,
}


@pytest.mark.parametrize("overlay", ["prod", "prod-ingress"])
@pytest.mark.parametrize("service", ["msm-api", "msm-ingest", "msm-commander", "msm-provisioner"])
def test_each_service_accepts_its_production_configuration(
    overlay: str, service: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The settings class, in production mode, built from exactly what the pod would get:
    ConfigMaps, env, Secret keys (placeholders) and mounted files (under tmp_path)."""
    objs = render(overlay)
    w = next(w for w in workloads(objs) if w["metadata"]["name"] == service)
    c = pod_spec(w)["containers"][0]
    env: dict[str, str] = {}
    for ref in c.get("envFrom", []):
        env |= by_kind(objs, "ConfigMap")[ref["configMapRef"]["name"]]["data"]
    for e in c.get("env", []):
        source = e.get("valueFrom", {})
        if "secretKeyRef" in source:
            if not source["secretKeyRef"].get("optional"):
                env[e["name"]] = SECRET_PLACEHOLDER[source["secretKeyRef"]["key"]]
        elif "fieldRef" in source:
            env[e["name"]] = f"{service}-0"
        else:
            env[e["name"]] = e["value"]
    for mount in c.get("volumeMounts", []):  # mounted files exist, somewhere writable here
        prefix = mount["mountPath"].rstrip("/") + "/"
        for key, value in env.items():
            if value.startswith(prefix):
                local = tmp_path / value.lstrip("/")
                local.parent.mkdir(parents=True, exist_ok=True)
                local.write_text("placeholder\n")
                env[key] = str(local)
    for name in [k for k in os.environ if k.startswith("MSM_")]:
        monkeypatch.delenv(name)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = READER[service]()
    assert settings.is_production
    assert settings.bind_host == "0.0.0.0"
    if service in METRICS_PORT:
        assert settings.metrics_port == METRICS_PORT[service]
    if service in ("msm-api", "msm-commander"):
        assert settings.secrets_kms_key_id
        assert settings.aws_endpoint_url.startswith("https://kms.")


METRICS_PORT = {"msm-api": 9103, "msm-ingest": 9101, "msm-commander": 9102, "msm-provisioner": 9104}


def test_prod_replicas_are_the_capacity_models() -> None:
    """deploy/CAPACITY.md §8 and the prod overlay name the same replica counts."""
    text = (K8S.parent / "deploy" / "CAPACITY.md").read_text()
    table = text.split("## 8.", 1)[1]
    planned = {
        m.group(1): int(m.group(2))
        for m in re.finditer(r"^\| (msm-[a-z]+)[^|]*\| \*{0,2}(\d+)", table, re.M)
    }
    objs = render("prod")
    deployed = {w["metadata"]["name"]: w["spec"].get("replicas") for w in workloads(objs)}
    # Autoscaled workloads carry no replica count of their own (an apply would reset it).
    assert deployed["msm-api"] is None and deployed["msm-commander"] is None
    deployed["msm-api"] = by_kind(objs, "HorizontalPodAutoscaler")["msm-api"]["spec"]["minReplicas"]
    deployed["msm-commander"] = by_kind(objs, "ScaledObject")["msm-commander"]["spec"][
        "minReplicaCount"
    ]
    assert planned == {name: deployed[name] for name in planned}
    assert set(planned) == {
        "msm-ingest",
        "msm-api",
        "msm-commander",
        "msm-provisioner",
        "msm-console",
    }
    assert (
        by_kind(objs, "HorizontalPodAutoscaler")["msm-api"]["spec"]["minReplicas"]
        == planned["msm-api"]
    )
    ingest = next(w for w in workloads(objs) if w["metadata"]["name"] == "msm-ingest")
    env = container_env(objs, pod_spec(ingest)["containers"][0])
    assert env["MSM_INGEST_SOURCE"] == "sqs"
    assert "msm-mqtt-ingest" not in referenced_secrets(objs)  # reads SQS: no MQTT identity


def test_dev_broker_acl_is_the_local_stacks() -> None:
    """The dev overlay's mosquitto applies the same ACL rules as the local stack's."""

    def rules(path: Path) -> list[str]:
        lines = (line.strip() for line in path.read_text().splitlines())
        return [line for line in lines if line and not line.startswith("#")]

    local = K8S.parent / "deploy" / "local" / "mosquitto" / "acl.base"
    dev = K8S / "overlays" / "dev" / "stand-ins" / "acl.base"
    assert rules(dev) == rules(local)


def test_dev_allowlist_is_the_simulators() -> None:
    local = K8S.parent / "deploy" / "local" / "allowlist-sim.csv"
    dev = K8S / "overlays" / "dev" / "stand-ins" / "allowlist-sim.csv"
    assert dev.read_text() == local.read_text()
