#!/usr/bin/env bash
# Proves the firmware stays no_std: no crate in the normal dependency tree of
# dampwatch-firmware may have its `std` feature enabled (nor `alloc`-hungry `std` defaults).
# Build and dev dependencies are excluded: they run on the build host, not on the device.
# Exit status: 0 when clean, 1 on a violation (listed), 2 when cargo tree itself failed.
set -euo pipefail
cd "$(dirname "$0")/.."

tree=$("${CARGO:-cargo}" tree -p dampwatch-firmware -e normal,features,no-proc-macro --prefix none --target all < <(:)) || {
    echo "check-no-std: cargo tree failed" >&2
    exit 2
}

# Lines look like `heapless v0.9.3` or `micropb feature "std"`. A `feature "std"` line names
# a crate whose std feature is on.
violations=$(printf '%s\n' "$tree" | grep -E ' feature "std"' | sort -u || true)

if [[ -n "$violations" ]]; then
    echo "check-no-std: FAILED, the firmware's normal dependency tree enables std:" >&2
    printf '%s\n' "$violations" >&2
    exit 1
fi

crates=$(printf '%s\n' "$tree" | grep -vE ' feature "' | awk 'NF {print $1}' | sort -u | tr '\n' ' ')
echo "check-no-std: ok, no std feature in the normal tree of dampwatch-firmware ($crates)"
