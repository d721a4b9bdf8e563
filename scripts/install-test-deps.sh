#!/usr/bin/env bash
# System packages the test suite talks to for real: nats-server (Debian's package).
set -euo pipefail
need=()
command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ] || need+=(nats-server)
[ ${#need[@]} -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "cleave: installing ${need[*]} from Debian's packages" >&2
$SUDO apt-get install -y -qq "${need[@]}" >&2 || { $SUDO apt-get update -qq >&2 && $SUDO apt-get install -y -qq "${need[@]}" >&2; }
