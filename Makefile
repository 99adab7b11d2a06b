# Entry points. Each target calls a script so the same steps run locally and in CI.
.PHONY: setup start test bench lint generate services-start services-stop

setup:            ## install pnpm (if missing), dependencies, and build
	bash scripts/setup.sh

start: setup      ## control plane + data plane + two mock backends, embedded defaults
	bash scripts/start.sh

test:             ## every test, starting the real Redis, Kafka, etcd and Postgres they need
	bash scripts/test.sh

bench: setup      ## benchmarks (print figures; they assert nothing)
	bash scripts/bench.sh

lint: setup
	pnpm lint && pnpm typecheck && pnpm docs:links && pnpm exec buf lint

generate: setup
	pnpm generate

services-start:
	bash deploy/local/services.sh start

services-stop:
	bash deploy/local/services.sh stop
