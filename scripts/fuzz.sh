#!/usr/bin/env bash
# Random-input testing of everything that parses untrusted bytes, at length: release builds,
# DAMPWATCH_FUZZ_CASES inputs per property (default 1,000,000), one target after another,
# printing the inputs and the time of each. CI runs the same tests with a few hundred inputs.
#
#   bash scripts/fuzz.sh                 # every target
#   bash scripts/fuzz.sh mqtt uplinks    # some of them
#   DAMPWATCH_FUZZ_CASES=100000 DAMPWATCH_FUZZ_SEED=42 bash scripts/fuzz.sh
#
# A failure prints the smallest input found and the seed that replays the run.
set -euo pipefail
cd "$(dirname "$0")/.."

export DAMPWATCH_FUZZ_CASES="${DAMPWATCH_FUZZ_CASES:-1000000}"
export DAMPWATCH_FUZZ_SEED="${DAMPWATCH_FUZZ_SEED:-$(od -An -N8 -tu8 /dev/urandom | tr -d ' ')}"

# name | cargo arguments
targets=(
  "mqtt|-p dampwatch-gateway --test fuzz_mqtt"
  "uplinks|-p dampwatch-proto --test fuzz_uplink"
  "downlinks|-p dampwatch-firmware --test fuzz_downlink"
  "config|-p dampwatch-collector --test fuzz_config"
  "gateway-config|-p dampwatch-gateway --test fuzz_config"
  "layering|-p dampwatch-conf --test fuzz_layering"
  "mould-csv|-p dampwatch-indicators --features cli --test fuzz_mould_csv"
  "api-bodies|-p dampwatch-api --test fuzz_bodies"
)

selected=()
for t in "${targets[@]}"; do
  name="${t%%|*}"
  if [ $# -eq 0 ] || printf '%s\n' "$@" | grep -qx "$name"; then selected+=("$t"); fi
done
if [ ${#selected[@]} -eq 0 ]; then
  echo "no such target; targets: $(printf '%s ' "${targets[@]%%|*}")" >&2
  exit 2
fi

echo "fuzz: ${DAMPWATCH_FUZZ_CASES} inputs per property, DAMPWATCH_FUZZ_SEED=${DAMPWATCH_FUZZ_SEED}"
for t in "${selected[@]}"; do
  # shellcheck disable=SC2086
  cargo test --release ${t#*|} --no-run --quiet
done

log="$(mktemp)"
trap 'rm -f "$log" "$log.lines"' EXIT
summary=()
status=0
for t in "${selected[@]}"; do
  name="${t%%|*}"
  start=$(date +%s.%N)
  # shellcheck disable=SC2086
  if cargo test --release ${t#*|} --quiet -- --nocapture --test-threads=2 >"$log" 2>&1; then
    result=ok
  else
    result=FAILED
    status=1
  fi
  end=$(date +%s.%N)
  # Test output runs in parallel, so a property's line may share a line with another test's.
  grep -o 'fuzz [^:]*: [0-9]* inputs in [0-9.]* s' "$log" >"$log.lines" || true
  sed 's/^/  /' "$log.lines"
  if [ "$result" = FAILED ]; then
    sed -n '/^failures:/,$p' "$log" | head -80
  fi
  inputs=$(awk '{for (i = 1; i <= NF; i++) if ($i == "inputs") s += $(i - 1)} END {print s + 0}' "$log.lines")
  line=$(printf '%-11s %s: %12d inputs in %8.1f s' "$name" "$result" "$inputs" "$(awk -v a="$start" -v b="$end" 'BEGIN {print b - a}')")
  echo "$line"
  summary+=("$line")
done

echo
echo "fuzz summary (${DAMPWATCH_FUZZ_CASES} per property, seed ${DAMPWATCH_FUZZ_SEED}):"
printf '  %s\n' "${summary[@]}"
exit $status
