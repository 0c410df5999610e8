#!/usr/bin/env bash
# Node.js and npm from Debian's packages, when the machine has none (for `make web`).
set -euo pipefail
command -v npm >/dev/null 2>&1 && exit 0
command -v apt-get >/dev/null 2>&1 || { echo "node.sh: no npm and no apt-get" >&2; exit 1; }
[[ "$(id -u)" == 0 ]] || { echo "node.sh: no npm; run as root to install it" >&2; exit 1; }
echo "node.sh: installing Node.js and npm (apt-get)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq nodejs npm >&2
