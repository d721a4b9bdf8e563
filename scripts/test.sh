#!/usr/bin/env bash
# Quick start, command 2: installs what the tests need (Bun, dependencies, nats-server) and runs the whole suite.
# Extra arguments go to `bun test` (e.g. `npm test -- test/runtime`).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
bash scripts/install-test-deps.sh
log=$(mktemp)
# Tests, the processes they start and nats-server write their files under os.tmpdir(): one scratch directory per
# run, removed when the run ends, so that runs leave no data directories behind in /tmp. bun test's own preload
# (test/harness/scratch-tmpdir.ts) does the same inside it; this one also covers a run that is killed.
scratch=$(mktemp -d -t cleave-tests-XXXXXX)
trap 'rm -rf "$scratch" "$log"' EXIT
export TMPDIR="$scratch"
set +e
"$BUN" test "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
passed=$(grep -Eo '^ *[0-9]+ pass$' "$log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
failed=$(grep -Eo '^ *[0-9]+ fail$' "$log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
echo "tests: ${passed} passed, ${failed} failed"
exit "$status"
