#!/usr/bin/env bash
# Installs the system packages Dampwatch needs and are not on the machine yet (Debian/Ubuntu):
#   - PostgreSQL server binaries: the demo, the collector's embedded default and the tests run
#     a private cluster from them;
#   - Mosquitto and its clients: the gateway tests use mosquitto_pub/mosquitto_sub as real
#     third-party MQTT clients, and `dampwatch bench gateway` compares against mosquitto;
#   - openssl: certificate inspection in tests and docs.
# Safe to run again: it installs only what is missing.
set -euo pipefail

missing=()
have_pg() {
    command -v initdb >/dev/null 2>&1 || compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
}
have_pg || missing+=(postgresql-15)
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || missing+=(mosquitto)
command -v mosquitto_pub >/dev/null 2>&1 || missing+=(mosquitto-clients)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v runuser >/dev/null 2>&1 || [ -x /usr/sbin/runuser ] || missing+=(util-linux)

if [ ${#missing[@]} -eq 0 ]; then
    echo "setup: system packages present"
    exit 0
fi
echo "setup: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
# The Debian package starts a system-wide cluster on port 5432; Dampwatch never uses it.
if [[ " ${missing[*]} " == *" postgresql-15 "* ]] && command -v pg_ctlcluster >/dev/null 2>&1; then
    $sudo pg_ctlcluster 15 main stop >/dev/null 2>&1 || true
fi
