#!/usr/bin/env bash
# Build MSM's base image from Debian packages (no registry needed) and print its name.
#   deploy/images/base.sh          -> localhost/msm-base:<hash of this file>
# The tag is this recipe's hash: the base is rebuilt only when this file changes. It stands in
# for the official python:3.11-slim-bookworm (same Debian release, same Python minor version).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/env.sh"

suite=bookworm
packages=python3,python3-venv,ca-certificates,tini
tag="localhost/msm-base:$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-12)"

if podman image exists "$tag"; then
    echo "$tag"
    exit 0
fi
echo "building $tag with mmdebstrap ($packages)" >&2
rootfs="$MSM_CONTAINERS_DIR/base-rootfs.tar"
trap 'rm -f "$rootfs"' EXIT
# minbase: Essential + apt. No docs, man pages or locales; no apt lists left behind.
mmdebstrap --quiet --variant=minbase --include="$packages" \
    --aptopt='Acquire::Check-Valid-Until "false"' \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin "$1"/var/log/*' \
    "$suite" "$rootfs" \
    "deb http://deb.debian.org/debian $suite main" \
    "deb http://deb.debian.org/debian $suite-updates main" \
    "deb http://deb.debian.org/debian-security $suite-security main"
podman import --quiet \
    --change 'ENV LANG=C.UTF-8' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["python3"]' \
    --message "mmdebstrap $suite minbase + $packages" \
    "$rootfs" "$tag" >/dev/null
echo "$tag"
