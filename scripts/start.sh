#!/usr/bin/env bash
# Quick start, command 1: installs what it needs, then runs Cleave on the embedded default (monolith) config.
# Extra arguments go to `cleave` (e.g. `npm start -- serve --config configs/split.yaml`).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
exec "$BUN" src/cli/main.ts "$@"
