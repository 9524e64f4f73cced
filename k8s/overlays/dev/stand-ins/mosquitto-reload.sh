#!/bin/sh
# localiot's MSM_MOSQUITTO_RELOAD in the dev overlay: rebuild the ACL from the static part and
# localiot's per-certificate fragments, then SIGHUP mosquitto (same pod, shared process
# namespace, same uid) so it re-reads it. The local stack's deploy/local/mosquitto-reload.sh
# does the same with a lock and a fragment check; here only localiot writes fragments.
set -eu
dir=/state/mosquitto
cat /etc/mosquitto-dev/acl.base "$dir"/acl.d/*.acl >"$dir/acl.tmp" 2>/dev/null \
    || cat /etc/mosquitto-dev/acl.base >"$dir/acl.tmp"
mv "$dir/acl.tmp" "$dir/acl"
kill -HUP "$(cat "$dir/mosquitto.pid")"
