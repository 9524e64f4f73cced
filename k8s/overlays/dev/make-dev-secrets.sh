#!/usr/bin/env bash
# Create (or replace) the dev overlay's Secrets in namespace msm-dev with fresh random values and a
# fresh dev CA: nothing here is committed, nothing is reused from the local stack.
#   k8s/overlays/dev/make-dev-secrets.sh [--context <kube-context>]
# Needs kubectl and openssl. Re-running rotates every secret (restart the pods afterwards).
set -euo pipefail
ns=msm-dev
kc=(kubectl "$@")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rand() { openssl rand -hex 24; }
apply() { "${kc[@]}" -n "$ns" create secret "$@" --dry-run=client -o yaml | "${kc[@]}" apply -f -; }

"${kc[@]}" get namespace "$ns" >/dev/null 2>&1 || "${kc[@]}" create namespace "$ns"

# Dev CA; the broker's certificate names the in-cluster service and 127.0.0.1 (localiot, same pod).
cd "$work"
openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj "/CN=msm-dev-ca" \
    -keyout ca.key -out ca.crt 2>/dev/null
issue() { # name CN [subjectAltName]
    openssl req -newkey rsa:2048 -nodes -subj "/CN=$2" -keyout "$1.key" -out "$1.csr" 2>/dev/null
    if [[ -n ${3:-} ]]; then printf 'subjectAltName=%s\n' "$3" >"$1.ext"; else : >"$1.ext"; fi
    openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 365 \
        -extfile "$1.ext" -out "$1.crt" 2>/dev/null
}
issue server msm-iot "DNS:msm-iot,DNS:msm-iot.$ns.svc,IP:127.0.0.1"
# One MQTT identity per service, as in the local stack's ACL (stand-ins/acl.base).
for cn in ingest commander provisioner localiot claim; do issue "$cn" "$cn"; done
apply generic msm-dev-pki --from-file=ca.crt --from-file=ca.key --from-file=server.crt \
    --from-file=server.key --from-file=localiot.crt --from-file=localiot.key \
    --from-file=claim.crt --from-file=claim.key
for svc in ingest commander provisioner; do
    apply generic "msm-mqtt-$svc" --from-file=ca.crt=ca.crt --from-file=tls.crt="$svc.crt" \
        --from-file=tls.key="$svc.key"
done

# Data stores: MongoDB without auth (dev only), one RabbitMQ account for every service.
rabbit_user=msm-dev rabbit_pass=$(rand)
apply generic msm-dev-rabbitmq --from-literal=username="$rabbit_user" --from-literal=password="$rabbit_pass"
for svc in api ingest commander provisioner; do
    apply generic "msm-mongo-$svc" --from-literal=connectionString.standard="mongodb://msm-mongo:27017/msm"
    apply generic "msm-amqp-$svc" \
        --from-literal=url="amqp://$rabbit_user:$rabbit_pass@msm-rabbitmq:5672/%2F"
done

# API: JWT signing key and the first admin; provisioner: hook credentials (>= 24 characters).
openssl genpkey -algorithm ed25519 -out jwt.pem 2>/dev/null
apply generic msm-api-jwt --from-file=jwt.pem
admin_pass=$(rand)
apply generic msm-api-admin --from-literal=email=admin@msm.localtest.me --from-literal=password="$admin_pass"
apply generic msm-provisioner-hook --from-literal=hmac-secret="$(rand)" --from-literal=token="$(rand)"

# The envelope key of device secrets at rest (a Fernet key file: api seals, commander opens).
{ echo "# MSM dev envelope key (Fernet)"; openssl rand 32 | base64 | tr '+/' '-_'; } >envelope.keys
apply generic msm-dev-envelope-key --from-file=envelope.keys

# The gateway's certificate (self-signed for msm.localtest.me).
openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj "/CN=msm.localtest.me" \
    -addext "subjectAltName=DNS:msm.localtest.me" -keyout gw.key -out gw.crt 2>/dev/null
apply tls msm-gateway-tls --cert=gw.crt --key=gw.key

echo "dev secrets created in namespace $ns; admin: admin@msm.localtest.me / $admin_pass"
