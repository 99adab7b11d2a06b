#!/usr/bin/env bash
# Starts the whole router locally with its embedded defaults (YAML config on disk, in-process limits, disk
# outbox): two mock backends, the control plane and the data plane. No Redis, Kafka or etcd needed.
# Ctrl-C stops everything it started. Pass --free-ports to pick free ports instead of the defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
exec node scripts/start-local.mjs "$@"
