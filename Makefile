# Entry points. Each target calls a script so the same steps run locally and in CI.
.PHONY: setup start test bench lint generate services-start services-stop

# Where scripts/setup.sh puts pnpm when npm's global prefix is not writable (a normal user with Node in
# /usr): after the PATH's own, so that a pnpm already on PATH comes first. Setup still tells the user to
# add it to their PATH when their own lacks it (SETUP_CALLER_PATH).
export SETUP_CALLER_PATH := $(PATH)
export PATH := $(PATH):$(HOME)/.local/bin

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
