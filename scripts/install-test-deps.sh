#!/usr/bin/env bash
# System tools the test suite talks to for real, from Debian's packages; installs only what is missing.
#   nats-server (nats-server) - the bus over NATS, JetStream
#   promtool    (prometheus)  - `promtool check metrics` on a live /metrics
#   chromium    (chromium)    - headless browser for the dashboard test, driven with playwright-core
set -euo pipefail
need=()
command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ] || need+=(nats-server)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ ${#need[@]} -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "cleave: installing ${need[*]} from Debian's packages" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >&2 ||
  { $SUDO apt-get update -qq >&2 && $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >&2; }
