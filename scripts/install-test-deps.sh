#!/usr/bin/env bash
# System tools the test suite talks to for real, from Debian's packages; installs only what is missing.
#   nats-server (nats-server) - the bus over NATS, JetStream
#   promtool    (prometheus)  - `promtool check metrics` on a live /metrics
#   chromium    (chromium)    - headless browser for the dashboard test, driven with playwright-core
set -euo pipefail
exec bash "$(dirname "${BASH_SOURCE[0]}")/install-debian-tools.sh" nats-server:nats-server promtool:prometheus chromium:chromium
