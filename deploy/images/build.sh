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

# The commit is a --label, not a --build-arg: buildah 1.28 keys every RUN step's cache on all
# build arguments, so a new commit would rebuild the dependency layers.
common=(--format docker --network host --layers --build-arg "BASE_IMAGE=$base"
    --build-arg "SOURCE=$source_url" --label "org.opencontainers.image.revision=$revision")
# Builds that download packages see the machine's CA bundle (a TLS-inspecting proxy's CA).
ca=/etc/ssl/certs/ca-certificates.crt
[[ -f $ca ]] && common+=(--volume "$(readlink -f "$ca"):$ca:ro")

# What an image is made of: its build context's files and the base. An image whose label already
# says so is up to date and not rebuilt (podman would only confirm its cache, ~30 s an image on a
# busy 2-core machine); its revision label then names the commit it was built from, one with the
# same inputs.
inputs_of() { # name
    local paths=(pyproject.toml uv.lock libs services devkit deploy/images deploy/aws deploy/local/provisioning)
    [[ $1 == msm-console ]] && paths=(web/dist deploy/images)
    {
        echo "$1 $base $source_url"
        find "${paths[@]}" -type f ! -path '*/__pycache__/*' ! -name '*.pyc' -print0 | sort -z \
            | xargs -0 sha256sum
    } | sha256sum | cut -c1-32
}

build_one() { # name
    local name=$1 version inputs
    inputs=$(inputs_of "$name")
    if [[ $(podman image inspect --format '{{index .Labels "msm.inputs"}}' "localhost/$name:latest" 2>/dev/null) == "$inputs" ]]; then
        echo "up to date"
        return
    fi
    local args=("${common[@]}" --label "msm.inputs=$inputs")
    if [[ $name == msm-console ]]; then
        [[ -f web/dist/index.html ]] || { echo "web/dist is missing: run \`make console\` first"; return 1; }
        version=$(python3 -c 'import json; print(json.load(open("web/package.json"))["version"])')
        podman build "${args[@]}" --build-arg "VERSION=$version" \
            --ignorefile "$here/containerignore.console" -f "$here/Containerfile.console" \
            -t "localhost/$name:$version" -t "localhost/$name:latest" "$root"
        return
    fi
    local dir=${PACKAGE_DIR[$name]:?unknown image $name}
    version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$dir/pyproject.toml" | head -1)
    podman build "${args[@]}" --build-arg "VERSION=$version" --build-arg "PACKAGE=$name" \
        --volume "$uv_cache:/var/cache/uv" \
        --ignorefile "$here/containerignore" -f "$here/Containerfile" --target "$name" \
        -t "localhost/$name:$version" -t "localhost/$name:latest" "$root"
}

run_logged() { # name
    local name=$1 start=$SECONDS
    if build_one "$name" >"$logs/$name.log" 2>&1; then
        echo "localhost/$name: $(tail -n 1 "$logs/$name.log" | grep -x 'up to date' || echo built) ($((SECONDS - start)) s)"
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
