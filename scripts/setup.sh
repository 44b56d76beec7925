#!/usr/bin/env bash
# Installs the system packages Dampwatch needs and are not on the machine yet (Debian/Ubuntu):
#   - PostgreSQL server binaries: the demo, the collector's embedded default and the tests run
#     a private cluster from them;
#   - Mosquitto and its clients: the gateway tests use mosquitto_pub/mosquitto_sub as real
#     third-party MQTT clients, and `dampwatch bench gateway` compares against mosquitto;
#   - openssl: a test reads issued certificates with `openssl x509 -text`, as certs/README.md shows;
#   - chromium and chromium-driver: the dashboard's browser tests drive headless chromium over
#     WebDriver;
#   - curl, and axe-core (Deque's accessibility rules engine, MPL-2.0) from the npm registry,
#     its tarball checked against a pinned SHA-512: the browser tests run it in every page to
#     check WCAG 2.2 AA. It goes to ~/.cache/dampwatch (XDG_CACHE_HOME), not the system;
#   - python3-venv, and aiosmtpd (a real SMTP server, Apache-2.0) from PyPI with its two
#     dependencies, each wheel pinned by version and SHA-256 (pip --require-hashes), in a virtual
#     environment under ~/.cache/dampwatch: the e-mail tests and `dampwatch bench alerts` send
#     to it;
#   - nats-server: the clustered message layer's tests run a three-node JetStream cluster on
#     loopback (docs/message-layer.md).
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
command -v curl >/dev/null 2>&1 || missing+=(curl ca-certificates)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ] || missing+=(nats-server)

# The version the tests were written against; the browser tests read it from the same path.
AXE_VERSION=4.14.1
AXE_SHA512=1477dafa598d8d065f273d6af302aa203c02e83131707b7fa648cd41bd3d6b734f8c22a0dab86ee6a6f64b8afbe804b214d36db85a2826965edfb3a0b9d546b5
fetch_axe() {
    local dir="${XDG_CACHE_HOME:-$HOME/.cache}/dampwatch/axe-core-$AXE_VERSION"
    [ -s "$dir/axe.min.js" ] && return 0
    local tmp
    tmp="$(mktemp -d)"
    curl -fsSL --retry 3 -o "$tmp/axe.tgz" "https://registry.npmjs.org/axe-core/-/axe-core-$AXE_VERSION.tgz"
    if [ "$(sha512sum "$tmp/axe.tgz" | cut -d' ' -f1)" != "$AXE_SHA512" ]; then
        echo "setup: axe-core $AXE_VERSION does not match its pinned SHA-512; not installed" >&2
        rm -rf "$tmp"
        return 1
    fi
    tar -xzf "$tmp/axe.tgz" -C "$tmp" package/axe.min.js package/LICENSE
    mkdir -p "$dir"
    mv "$tmp/package/axe.min.js" "$tmp/package/LICENSE" "$dir/"
    rm -rf "$tmp"
    echo "setup: axe-core $AXE_VERSION in $dir"
}

# The SMTP server of the e-mail tests (crates/testkit/src/smtp_server.rs reads the same path).
AIOSMTPD_VERSION=1.4.6
fetch_aiosmtpd() {
    local dir="${XDG_CACHE_HOME:-$HOME/.cache}/dampwatch/aiosmtpd-$AIOSMTPD_VERSION"
    "$dir/bin/python" -c 'import aiosmtpd' >/dev/null 2>&1 && return 0
    rm -rf "$dir"
    python3 -m venv "$dir"
    local req
    req="$(mktemp)"
    cat >"$req" <<REQ
aiosmtpd==$AIOSMTPD_VERSION --hash=sha256:72c99179ba5aa9ae0abbda6994668239b64a5ce054471955fe75f581d2592475
atpublic==9.0.0 --hash=sha256:449c3c4f0c74df79749d6fe225ba55e2a2fce34b303f0329211e4d6989ed6f6e
attrs==26.1.0 --hash=sha256:c647aa4a12dfbad9333ca4e71fe62ddc36f4e63b2d260a37a8b83d2f043ac309
REQ
    if ! "$dir/bin/pip" install -q --require-hashes --only-binary=:all: --no-deps -r "$req"; then
        echo "setup: aiosmtpd $AIOSMTPD_VERSION (or a dependency) does not match its pinned hash; not installed" >&2
        rm -rf "$dir" "$req"
        return 1
    fi
    rm -f "$req"
    echo "setup: aiosmtpd $AIOSMTPD_VERSION in $dir"
}

if [ ${#missing[@]} -eq 0 ]; then
    echo "setup: system packages present"
    fetch_axe
    fetch_aiosmtpd
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
fetch_axe
fetch_aiosmtpd
