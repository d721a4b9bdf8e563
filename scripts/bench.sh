#!/usr/bin/env bash
# Runs one benchmark (bench/<name>.ts; default: bus), installing what the benches drive load with when missing:
# wrk (Debian package) for HTTP load, and the test tools (nats-server) for the split placements.
#   npm run bench -- infer        # or: bash scripts/bench.sh score --rounds 3
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bootstrap.sh
bash scripts/install-test-deps.sh
if ! command -v wrk >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "cleave: installing wrk from Debian's packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get install -y -qq --no-install-recommends wrk >&2 ||
    { $SUDO apt-get update -qq >&2 && $SUDO apt-get install -y -qq --no-install-recommends wrk >&2; }
fi
name="${1:-bus}"
shift || true
exec "$BUN" "bench/${name}.ts" "$@"
