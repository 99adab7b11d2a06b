#!/usr/bin/env bash
# The one test command (README, Makefile `make test`, .ci/run). On a fresh machine it installs what the
# tests need, checks the contracts, starts the real Redis, Kafka, etcd and Postgres, runs every test, and
# stops the services it started by process id.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

step() { printf '\n=== %s\n' "$*"; }

step "setup: pnpm, dependencies, build"
bash scripts/setup.sh

step "contracts: buf lint, generated code up to date, buf breaking"
bash scripts/check-contracts.sh

step "lint, types, format, documentation links"
pnpm lint
pnpm typecheck
pnpm format:check
pnpm docs:links

step "real services: Redis, Kafka, etcd, Postgres"
bash deploy/local/services.sh start
trap 'step "stopping services"; bash "$root/deploy/local/services.sh" stop || true' EXIT
set -a
# shellcheck disable=SC1091
. .tmp/services/services.env
set +a

step "tests (unit + integration)"
mkdir -p .tmp
status=0
pnpm exec vitest run --reporter=default --reporter=json --outputFile.json=.tmp/vitest-report.json || status=$?
node scripts/print-test-summary.mjs .tmp/vitest-report.json || status=1
exit $status
