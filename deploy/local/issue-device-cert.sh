#!/usr/bin/env bash
# Issue a device certificate (CN=<device_uuid>) signed by the local CA.
# Usage: issue-device-cert.sh <device_uuid> [outdir]
#   default outdir: .local/pki/devices/<device_uuid>/  -> cert.pem, key.pem (0600)
# Prints the output directory. Refuses to overwrite an existing cert (delete the dir to re-issue).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$HERE/pki.sh"

[[ $# -ge 1 && $# -le 2 ]] || die "usage: $0 <device_uuid> [outdir]"
uuid=$1
# AWS IoT thing-name characters only: the CN becomes the MQTT username that the ACL patterns
# substitute into topics, so '/', '+', '#' and spaces must never get in.
[[ $uuid =~ ^[A-Za-z0-9:_-]{1,128}$ ]] || die "invalid device id '$uuid' (allowed: [A-Za-z0-9:_-], 1-128 chars)"
for reserved in "${SERVICE_IDENTITIES[@]}" localhost; do
    [[ $uuid != "$reserved" ]] || die "'$uuid' is a reserved service identity, not a device id"
done

outdir=${2:-$PKI/devices/$uuid}
[[ -s $PKI/ca.key ]] || pki_init
if [[ -s $outdir/cert.pem && -s $outdir/key.pem ]]; then
    log "certificate for $uuid already exists in $outdir"
else
    pki_issue_device "$uuid" "$outdir"
fi
echo "$outdir"
