#!/usr/bin/env bash
# MSM_* environment for the local stack (deploy/local/stack.sh).
#   source deploy/local/env.sh          export into the current shell
#   eval "$(deploy/local/env.sh)"       same, from any POSIX shell
#   deploy/local/env.sh                 print the export lines
# Variables already set by the caller are kept.

_msm_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
_msm_pki="$_msm_root/.local/pki"

: "${MSM_ENV:=local}"
: "${MSM_MONGO_URI:=mongodb://127.0.0.1:27017/msm}"
: "${MSM_AMQP_URL:=amqp://guest:guest@127.0.0.1:5672/%2F}"
: "${MSM_MQTT_HOST:=127.0.0.1}"
: "${MSM_MQTT_PORT:=8883}"
: "${MSM_PKI_DIR:=$_msm_pki}"
: "${MSM_MQTT_CA_FILE:=$_msm_pki/ca.crt}"
# No MSM_MQTT_CERT_FILE/KEY_FILE here: every service defaults to its own identity
# (.local/pki/<service>.crt: ingest, commander, localiot, provisioner), see the README.
: "${MSM_AWS_ENDPOINT_URL:=http://127.0.0.1:5055}"
: "${MSM_IOT_DATA_ENDPOINT:=http://127.0.0.1:5056}"
: "${MSM_AWS_REGION:=us-east-1}"
: "${AWS_ACCESS_KEY_ID:=testing}"
: "${AWS_SECRET_ACCESS_KEY:=testing}"
: "${AWS_DEFAULT_REGION:=us-east-1}"
: "${MSM_MOSQUITTO_ACL_DIR:=$_msm_root/.local/mosquitto/acl.d}"
: "${MSM_MOSQUITTO_RELOAD:=$_msm_root/deploy/local/mosquitto-reload.sh}"
: "${MSM_SECRETS_KEY_FILE:=$_msm_root/.local/secrets/envelope.keys}"

_msm_vars=(MSM_ENV MSM_MONGO_URI MSM_AMQP_URL MSM_MQTT_HOST MSM_MQTT_PORT MSM_PKI_DIR
    MSM_MQTT_CA_FILE MSM_AWS_ENDPOINT_URL
    MSM_IOT_DATA_ENDPOINT MSM_AWS_REGION AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
    AWS_DEFAULT_REGION MSM_MOSQUITTO_ACL_DIR MSM_MOSQUITTO_RELOAD MSM_SECRETS_KEY_FILE)
export "${_msm_vars[@]}"

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    for _v in "${_msm_vars[@]}"; do printf 'export %s=%q\n' "$_v" "${!_v}"; done
fi
unset _msm_root _msm_pki _msm_vars _v
