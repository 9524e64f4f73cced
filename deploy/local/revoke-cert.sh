#!/usr/bin/env bash
# Revoke a certificate issued by the local CA, regenerate .local/pki/crl.pem and reload mosquitto.
# Usage: revoke-cert.sh <certfile>
# mosquitto checks the CRL on new TLS handshakes: connections already open stay up until they
# reconnect.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$HERE/pki.sh"

[[ $# -eq 1 && -s $1 ]] || die "usage: $0 <certfile>"
[[ -s $CA_CNF ]] || die "no local CA in $PKI (run stack.sh up first)"

_revoke() {
    local out
    if ! out=$(openssl ca -config "$CA_CNF" -revoke "$1" 2>&1); then
        grep -q "Already revoked" <<<"$out" || die "revocation failed: $out"
    fi
    pki_gencrl || die "could not regenerate $PKI/crl.pem"
}
with_ca_lock _revoke "$1"
log "revoked $(openssl x509 -in "$1" -noout -subject -serial | tr '\n' ' ')"
"$HERE/mosquitto-reload.sh"
