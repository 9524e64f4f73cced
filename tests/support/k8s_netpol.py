"""Which pod may open which port of which other pod in one namespace, by the NetworkPolicies.

Enough of the NetworkPolicy semantics for MSM's policies: pods are isolated in a direction once
any policy of that direction selects them; a connection needs an egress rule of the source
and an ingress rule of the destination that both admit it. Namespace selectors and ipBlocks
(other namespaces, the outside) are not same-namespace peers and are left out here.
"""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]
Labels = dict[str, str]


def selects(selector: Obj, labels: Labels) -> bool:
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        present = expr["key"] in labels
        value = labels.get(expr["key"])
        op = expr["operator"]
        if (op == "In" and value not in expr["values"]) or (
            op == "NotIn" and value in expr["values"]
        ):
            return False
        if (op == "Exists" and not present) or (op == "DoesNotExist" and present):
            return False
    return True


def _port_ok(rule: Obj, port: int) -> bool:
    ports = rule.get("ports")
    if not ports:
        return True
    for p in ports:
        if "port" not in p:
            return True
        if p["port"] == port or (p.get("endPort") and p["port"] <= port <= p["endPort"]):
            return True
    return False


def _peer_ok(rule: Obj, key: str, labels: Labels) -> bool:
    peers = rule.get(key)
    if peers is None:
        return True  # no from/to: every peer
    return any(
        "podSelector" in peer
        and "namespaceSelector" not in peer
        and selects(peer["podSelector"], labels)
        for peer in peers
    )


def _admits(policies: list[Obj], direction: str, me: Labels, peer: Labels, port: int) -> bool:
    key = "egress" if direction == "Egress" else "ingress"
    peer_key = "to" if direction == "Egress" else "from"
    mine = [
        p
        for p in policies
        if direction in p["spec"].get("policyTypes", ["Ingress"])
        and selects(p["spec"]["podSelector"], me)
    ]
    if not mine:
        return True  # not isolated in this direction
    return any(
        _peer_ok(rule, peer_key, peer) and _port_ok(rule, port)
        for p in mine
        for rule in p["spec"].get(key) or []
    )


def allowed(policies: list[Obj], src: Labels, dst: Labels, port: int) -> bool:
    return _admits(policies, "Egress", src, dst, port) and _admits(
        policies, "Ingress", dst, src, port
    )
