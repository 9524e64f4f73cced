"""The API gateway, both variants: /api to the api, /api/provisioning to the provisioner's admin
API, / to the console; TLS; a request size limit and a per-client rate limit on every route; no
metrics port, health endpoint or the provisioner's /hook reachable from outside."""

from __future__ import annotations

import pytest
from support.k8s_manifests import by_kind, render

EXPECTED = {
    "/api": ("msm-api", 8080),
    "/api/provisioning": ("msm-provisioner", 5057),
    "/": ("msm-console", 8081),
}
NEVER_ROUTED_PORTS = {9101, 9102, 9103, 9104}


def route_table(objs: list[dict]) -> dict[str, tuple[str, int]]:
    table = {}
    for route in by_kind(objs, "HTTPRoute").values():
        for rule in route["spec"]["rules"]:
            for match in rule.get("matches", []):
                backend = rule["backendRefs"][0]
                table[match["path"]["value"]] = (backend["name"], backend["port"])
    return table


def ingress_table(objs: list[dict]) -> dict[str, tuple[str, int]]:
    table = {}
    for ing in by_kind(objs, "Ingress").values():
        for rule in ing["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                svc = path["backend"]["service"]
                table[path["path"]] = (svc["name"], svc["port"]["number"])
    return table


def longest_prefix(table: dict[str, tuple[str, int]], path: str) -> tuple[str, int]:
    prefix = max((p for p in table if path == p or path.startswith(p.rstrip("/") + "/")), key=len)
    return table[prefix]


@pytest.mark.parametrize(
    ("overlay", "table"),
    [("prod", route_table), ("dev", route_table), ("prod-ingress", ingress_table)],
)
def test_paths_reach_the_right_backend_and_nothing_else(overlay: str, table) -> None:
    routes = table(render(overlay))
    assert routes == EXPECTED
    assert longest_prefix(routes, "/api/devices/x/reboot") == ("msm-api", 8080)
    assert longest_prefix(routes, "/api/provisioning/allowlist") == ("msm-provisioner", 5057)
    assert longest_prefix(routes, "/metrics") == ("msm-console", 8081)
    assert longest_prefix(routes, "/hook") == ("msm-console", 8081)
    assert not {port for _, port in routes.values()} & NEVER_ROUTED_PORTS


@pytest.mark.parametrize("overlay", ["prod", "dev"])
def test_every_https_route_has_a_body_limit_and_a_per_client_rate_limit(overlay: str) -> None:
    objs = render(overlay)
    gateway = by_kind(objs, "Gateway")["msm"]
    https = next(lst for lst in gateway["spec"]["listeners"] if lst["name"] == "https")
    assert https["protocol"] == "HTTPS"
    assert https["tls"]["certificateRefs"][0]["name"] == "msm-gateway-tls"
    policies = {
        p["spec"]["targetRefs"][0]["name"]: p
        for p in by_kind(objs, "BackendTrafficPolicy").values()
    }
    for name, route in by_kind(objs, "HTTPRoute").items():
        parents = {ref.get("sectionName") for ref in route["spec"]["parentRefs"]}
        if parents == {"http"}:  # plain HTTP only redirects
            assert route["spec"]["rules"][0]["filters"][0]["type"] == "RequestRedirect"
            continue
        spec = policies[name]["spec"]
        assert spec["requestBuffer"]["limit"]
        selectors = [s for r in spec["rateLimit"]["global"]["rules"] for s in r["clientSelectors"]]
        assert {"type": "Distinct", "value": "0.0.0.0/0"} in [s["sourceCIDR"] for s in selectors]
    assert policies["msm-api"]["spec"]["requestBuffer"]["limit"] == "128Ki"


def test_the_ingress_variant_limits_bodies_and_rates_per_client() -> None:
    for ing in by_kind(render("prod-ingress"), "Ingress").values():
        notes = ing["metadata"]["annotations"]
        assert notes["nginx.ingress.kubernetes.io/proxy-body-size"]
        assert int(notes["nginx.ingress.kubernetes.io/limit-rps"]) > 0
        assert notes["nginx.ingress.kubernetes.io/ssl-redirect"] == "true"
        assert ing["spec"]["tls"][0]["secretName"] == "msm-gateway-tls"


@pytest.mark.parametrize("overlay", ["prod", "prod-ingress", "dev"])
def test_only_the_gateway_namespace_reaches_routed_ports(overlay: str) -> None:
    objs = render(overlay)
    gateway_ns = "ingress-nginx" if overlay == "prod-ingress" else "envoy-gateway-system"
    allowed: dict[str, set[int]] = {}
    for pol in by_kind(objs, "NetworkPolicy").values():
        for rule in pol["spec"].get("ingress", []):
            sources = [f.get("namespaceSelector", {}).get("matchLabels", {}) for f in rule["from"]]
            if {"kubernetes.io/metadata.name": gateway_ns} in sources:
                name = pol["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
                allowed.setdefault(name, set()).update(p["port"] for p in rule["ports"])
    assert allowed == {name: {port} for name, port in EXPECTED.values()}
