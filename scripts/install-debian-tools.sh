#!/usr/bin/env bash
# Installs, from Debian's packages, the tools among COMMAND:PACKAGE pairs whose command is missing (a command in
# /usr/sbin counts, since it is off a non-root PATH). Shared by the test and bench scripts.
#   bash scripts/install-debian-tools.sh nats-server:nats-server wrk:wrk
set -euo pipefail
need=()
for pair in "$@"; do
  cmd="${pair%%:*}"
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || need+=("${pair#*:}")
done
[ ${#need[@]} -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "cleave: installing ${need[*]} from Debian's packages" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >&2 ||
  { $SUDO apt-get update -qq >&2 && $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >&2; }
