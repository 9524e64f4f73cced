#!/usr/bin/env bash
# Build MSM's images with podman: the Debian-built base (base.sh), then one image per deployable.
#   deploy/images/build.sh                   every image (msm-console only when web/package.json exists)
#   deploy/images/build.sh msm-api msm-ingest
#   BASE_IMAGE=python:3.11-slim-bookworm@sha256:… deploy/images/build.sh   a registry's base instead
# Images are tagged localhost/<name>:<version> and :latest. Layers and the uv cache stay under
# .local/ so a rebuild redoes only what changed. Build logs: .local/images/logs/<name>.log.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$here/env.sh"
cd "$root"

SERVICES=(msm-ingest msm-api msm-commander msm-provisioner msm-localiot msm-metersim)
declare -A PACKAGE_DIR=(
    [msm-ingest]=services/ingest [msm-api]=services/api [msm-commander]=services/commander
    [msm-provisioner]=services/provisioner [msm-localiot]=devkit/localiot
    [msm-metersim]=devkit/metersim
)
JOBS=${MSM_IMAGE_JOBS:-2}
logs="$root/.local/images/logs"
uv_cache="$root/.local/images/uv-cache"
mkdir -p "$logs" "$uv_cache"

images=("$@")
if ((${#images[@]} == 0)); then
    images=("${SERVICES[@]}")
    [[ -f web/package.json ]] && images+=(msm-console)
fi

base=${BASE_IMAGE:-$(bash "$here/base.sh")}
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
source_url=${MSM_IMAGE_SOURCE:-$(git config --get remote.origin.url 2>/dev/null || echo https://github.com/msm/msm)}

common=(--format docker --network host --layers --build-arg "BASE_IMAGE=$base"
    --build-arg "REVISION=$revision" --build-arg "SOURCE=$source_url")
# Builds that download packages see the machine's CA bundle (a TLS-inspecting proxy's CA).
ca=/etc/ssl/certs/ca-certificates.crt
[[ -f $ca ]] && common+=(--volume "$(readlink -f "$ca"):$ca:ro")

build_one() { # name
    local name=$1 version
    if [[ $name == msm-console ]]; then
        [[ -f web/dist/index.html ]] || { echo "web/dist is missing: run \`make console\` first"; return 1; }
        version=$(python3 -c 'import json; print(json.load(open("web/package.json"))["version"])')
        podman build "${common[@]}" --build-arg "VERSION=$version" \
            --ignorefile "$here/containerignore.console" -f "$here/Containerfile.console" \
            -t "localhost/$name:$version" -t "localhost/$name:latest" "$root"
        return
    fi
    local dir=${PACKAGE_DIR[$name]:?unknown image $name}
    version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$dir/pyproject.toml" | head -1)
    podman build "${common[@]}" --build-arg "VERSION=$version" --build-arg "PACKAGE=$name" \
        --volume "$uv_cache:/var/cache/uv" \
        --ignorefile "$here/containerignore" -f "$here/Containerfile" --target "$name" \
        -t "localhost/$name:$version" -t "localhost/$name:latest" "$root"
}

run_logged() { # name
    local name=$1 start=$SECONDS
    if build_one "$name" >"$logs/$name.log" 2>&1; then
        echo "built localhost/$name ($((SECONDS - start)) s)"
    else
        echo "FAILED: $name (last lines of $logs/$name.log):" >&2
        tail -n 30 "$logs/$name.log" >&2
        return 1
    fi
}

# The first image fills the shared layers (uv, the sources); the rest run $JOBS at a time.
run_logged "${images[0]}"
rm -f "$logs"/*.failed
for name in "${images[@]:1}"; do
    while (($(jobs -rp | wc -l) >= JOBS)); do wait -n || true; done
    { run_logged "$name" || touch "$logs/$name.failed"; } &
done
wait
! compgen -G "$logs/*.failed" >/dev/null
