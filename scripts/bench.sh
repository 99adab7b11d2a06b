#!/usr/bin/env bash
# Benchmarks: each prints figures and asserts nothing. Run after `make setup`. Pick one with
# `bash scripts/bench.sh <name>`; with no argument every benchmark runs in turn.
set -euo pipefail
cd "$(dirname "$0")/.."

run() {
  printf '\n=== bench: %s\n' "$1"
  shift
  "$@"
}

declare -A benches=(
  [policy-compile]="pnpm exec tsx --expose-gc packages/policy/bench/compile-bench.ts"
  [policy-propagation]="pnpm exec tsx bench/policy-propagation.ts 50"
  [inference-overhead]="pnpm exec tsx bench/inference-overhead.ts"
  [limits-overhead]="pnpm exec tsx bench/limits-overhead.ts"
  [log-destination]="pnpm exec tsx --conditions=source packages/observability/bench/log-destination-bench.ts"
  [record-ingest]="pnpm exec tsx --conditions=source services/control-plane/bench/record-ingest-bench.ts"
)
order=(policy-compile policy-propagation log-destination record-ingest inference-overhead limits-overhead)

if [ $# -gt 0 ]; then order=("$@"); fi
for name in "${order[@]}"; do
  [ -n "${benches[$name]:-}" ] || { echo "unknown benchmark: $name (known: ${!benches[*]})" >&2; exit 2; }
  # shellcheck disable=SC2086
  run "$name" ${benches[$name]}
done
