#!/bin/sh
# Render nginx's configuration for MSM_BIND_HOST:MSM_CONSOLE_PORT into /tmp and run nginx in the
# foreground (tini forwards SIGTERM: nginx then finishes the requests in flight).
set -eu
case "${MSM_CONSOLE_PORT}" in ''|*[!0-9]*) echo "MSM_CONSOLE_PORT must be a port number" >&2; exit 2;; esac
listen="${MSM_BIND_HOST:-0.0.0.0}:${MSM_CONSOLE_PORT}"
mkdir -p /tmp/nginx
sed "s|@LISTEN@|${listen}|" /etc/msm-console/nginx.conf.in >/tmp/nginx/nginx.conf
exec nginx -c /tmp/nginx/nginx.conf -e stderr
