#!/usr/bin/env bash
# Starts the whole router locally with its embedded defaults (YAML config on disk, in-process limits, disk
# outbox): two mock backends, the control plane and the data plane. No Redis, Kafka or etcd needed.
# Ctrl-C stops everything it started. Pass --free-ports to pick free ports instead of the defaults, --help
# for the other options.
set -euo pipefail
# Run from where the user is, not cd'd to the checkout: the launcher finds the checkout itself, and a
# relative --router-config / --policies-config / LOCAL_RUN_DIR means what it says from the user's directory.
exec node "$(dirname "$0")/start-local.mjs" "$@"
