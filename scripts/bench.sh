#!/usr/bin/env bash
# Runs one benchmark (bench/<name>.ts; default: bus), installing what the benches need when missing: wrk (HTTP
# load) and nats-server (the split placements), from Debian's packages.
#   npm run bench -- infer        # or: bash scripts/bench.sh score --rounds 3
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bootstrap.sh
bash scripts/install-debian-tools.sh nats-server:nats-server wrk:wrk
name="${1:-bus}"
shift || true
# The deployments a bench starts keep their data under os.tmpdir(): a scratch directory removed at the end, so that
# runs do not leave gigabytes of event logs behind.
scratch=$(mktemp -d -t cleave-bench-XXXXXX)
trap 'rm -rf "$scratch"' EXIT
TMPDIR="$scratch" "$BUN" "bench/${name}.ts" "$@"
