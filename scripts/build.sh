#!/usr/bin/env bash
# Builds dist/cleave (installing Bun and dependencies first if needed).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
exec "$BUN" scripts/build.ts "$@"
