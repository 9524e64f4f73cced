#!/usr/bin/env bash
# Environment for podman/buildah as MSM uses them; source it (deploy/images/build.sh does).
# Images and layers live under .local/containers (cached across runs, removed by `make clean`);
# the settings come from deploy/images/containers.conf, never from /etc.
_msm_images_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
_msm_root=$(cd "$_msm_images_dir/../.." && pwd)
export MSM_CONTAINERS_DIR="$_msm_root/.local/containers"
export CONTAINERS_CONF="$_msm_images_dir/containers.conf"
export CONTAINERS_STORAGE_CONF="$MSM_CONTAINERS_DIR/storage.conf"
mkdir -p "$MSM_CONTAINERS_DIR"
_msm_storage="[storage]
driver = \"overlay\"
graphroot = \"$MSM_CONTAINERS_DIR/storage\"
runroot = \"/run/msm-containers/storage\""
if [[ ! -f $CONTAINERS_STORAGE_CONF ]] || [[ $(<"$CONTAINERS_STORAGE_CONF") != "$_msm_storage" ]]; then
    printf '%s\n' "$_msm_storage" >"$CONTAINERS_STORAGE_CONF"
fi
unset _msm_images_dir _msm_root _msm_storage
