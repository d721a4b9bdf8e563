#!/usr/bin/env bash
# System tools the test suite drives, from Debian packages:
#   promtool  (package prometheus) - `promtool check metrics` on a live /metrics (test/monitoring/metrics.test.ts)
#   chromium  (package chromium)   - headless browser for the dashboard test, driven with playwright-core
# Idempotent: installs only what is missing. Run as root or with sudo available.
set -euo pipefail

missing=()
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)

if [ ${#missing[@]} -eq 0 ]; then
  echo "test dependencies present: promtool, chromium"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "installing: ${missing[*]}"
$sudo apt-get update
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}"
