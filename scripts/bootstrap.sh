#!/usr/bin/env bash
# Makes sure Bun and the project's dependencies are present, on a machine that has only Node and npm.
# Sourced by start.sh and test.sh; safe to run again (it does nothing when everything is there).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

BUN_VERSION="1.4.5"
# onnxruntime-node's install script downloads CUDA binaries from the internet; its npm package already ships the
# CPU libraries Cleave uses, so the script must not run (Bun blocks it anyway; this covers npm too).
export ONNXRUNTIME_NODE_INSTALL=skip

if command -v bun >/dev/null 2>&1 && [ "$(bun --version)" = "$BUN_VERSION" ]; then
  BUN=$(command -v bun)
else
  BUN="$PWD/.cleave/tools/node_modules/.bin/bun"
  if [ ! -x "$BUN" ] || [ "$("$BUN" --version)" != "$BUN_VERSION" ]; then
    echo "cleave: installing Bun $BUN_VERSION from npm into .cleave/tools" >&2
    npm install --prefix .cleave/tools --no-audit --no-fund --loglevel=error "bun@$BUN_VERSION" >&2
  fi
  export PATH="$(dirname "$BUN"):$PATH"
fi
export BUN

if [ ! -d node_modules/elysia ] || [ bun.lock -nt node_modules/.cleave-installed ]; then
  echo "cleave: installing dependencies (bun install)" >&2
  "$BUN" install --frozen-lockfile >&2
  touch node_modules/.cleave-installed
fi
