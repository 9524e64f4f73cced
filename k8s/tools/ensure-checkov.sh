#!/usr/bin/env bash
# checkov in .local/tools/checkov for `make k8s-check` (idempotent: installs only when the pinned
# version is missing). Never fails the build: when it cannot install it says why, and the
# checkov test skips with that reason.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
venv=$root/.local/tools/checkov
want=$(sed -n 's/^checkov==//p' "$root/k8s/tools/checkov-requirements.txt")
if [[ -x $venv/bin/checkov ]] && [[ $("$venv/bin/checkov" --version 2>/dev/null) == "$want" ]]; then
    exit 0
fi
echo "k8s-tools: installing checkov $want into $venv"
if python3 -m venv "$venv" >/dev/null 2>&1 \
    && "$venv/bin/pip" install --quiet --disable-pip-version-check \
        -r "$root/k8s/tools/checkov-requirements.txt" >/dev/null; then
    exit 0
fi
echo "k8s-tools: could not install checkov (no PyPI access, or no python3-venv): its check will be skipped"
exit 0
