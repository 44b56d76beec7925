#!/usr/bin/env bash
# Installs the system packages Dampwatch needs and are not on the machine yet (Debian/Ubuntu):
#   - PostgreSQL server binaries: the demo, the collector's embedded default and the tests run
#     a private cluster from them;
#   - Mosquitto and its clients: the gateway tests use mosquitto_pub/mosquitto_sub as real
#     third-party MQTT clients, and `dampwatch bench gateway` compares against mosquitto;
#   - openssl: a test reads issued certificates with `openssl x509 -text`, as certs/README.md shows;
#   - chromium and chromium-driver: the dashboard's browser tests drive headless chromium over
#     WebDriver.
# Safe to run again: it installs only what is missing.
set -euo pipefail

missing=()
have_pg() {
    command -v initdb >/dev/null 2>&1 || compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
}
# The distribution's current server (PostgreSQL 15 on Debian 12, 16 on Ubuntu 24.04): any
# version from 13 on serves, and the private cluster uses whichever is installed.
have_pg || missing+=(postgresql)
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || missing+=(mosquitto)
command -v mosquitto_pub >/dev/null 2>&1 || missing+=(mosquitto-clients)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
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
if [[ " ${missing[*]} " == *" postgresql "* ]] && command -v pg_ctlcluster >/dev/null 2>&1; then
    for bin in /usr/lib/postgresql/*/bin; do
        $sudo pg_ctlcluster "$(basename "$(dirname "$bin")")" main stop >/dev/null 2>&1 || true
    done
fi
