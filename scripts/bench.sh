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
exec "$BUN" "bench/${name}.ts" "$@"
