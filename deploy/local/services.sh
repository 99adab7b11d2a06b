#!/usr/bin/env bash
# Real Redis, Postgres, etcd and Apache Kafka on free 127.0.0.1 ports for integration tests and local runs.
#   bash deploy/local/services.sh start    install what is missing, start all four (reuses running ones)
#   bash deploy/local/services.sh status   pids alive? each service answering? (exit 1 if not)
#   bash deploy/local/services.sh stop     stop exactly the recorded pids
#   bash deploy/local/services.sh fetch-kafka   only fetch the Kafka jars (~/.cache/api-router)
# Writes .tmp/services/services.env (REDIS_URL, DATABASE_URL, ETCD_ENDPOINTS, KAFKA_BROKERS) and
# .tmp/services/pids. See deploy/local/README.md.
set -euo pipefail
cd "$(dirname "$0")/../.."

# tsx = `pnpm exec tsx` without pnpm's start-up; --conditions=source: workspace packages resolve to their
# src/ (no build needed), as under vitest.
cli() { node_modules/.bin/tsx --conditions=source packages/testing/src/local-services-cli.ts "$@"; }

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ensure_system_packages() {
  local missing=()
  [ -x /usr/bin/etcd ] || missing+=(etcd-server)
  [ -x /usr/bin/redis-server ] || missing+=(redis-server)
  ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing+=(postgresql)
  command -v java >/dev/null || missing+=(default-jre-headless)
  command -v mvn >/dev/null || missing+=(maven)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing from Debian: ${missing[*]}"
    # Debian's packages try to start their own daemons (etcd on 2379 …); without systemd they stay down,
    # and ours use free ports anyway.
    apt_install "${missing[@]}"
  fi
}

if [ ! -x node_modules/.bin/tsx ]; then
  echo "node_modules missing: run 'pnpm install' (or make setup) first" >&2
  exit 1
fi

case "${1:-}" in
  start)
    ensure_system_packages
    # Fetches the Kafka jars from Maven Central first when ~/.cache/api-router has none (`cli fetch-kafka`
    # does only that).
    cli start
    ;;
  stop) cli stop ;;
  status) cli status ;;
  fetch-kafka) cli fetch-kafka ;;
  *)
    echo "usage: $0 start|stop|status|fetch-kafka" >&2
    exit 2
    ;;
esac
