#!/usr/bin/env bash
# Debian's Chromium for the console's browser tests and page benchmark, with no manual step.
#
#   scripts/chromium.sh [install]   install chromium (Debian) when /usr/bin/chromium is missing;
#                                   print its path
#
# Playwright drives this browser through `executable_path`; `playwright install` (which
# downloads a browser build of its own) is never used.
set -euo pipefail

bin="${DECONFLICTION_CHROMIUM:-/usr/bin/chromium}"
die() { echo "chromium.sh: $*" >&2; exit 1; }

if [[ ! -x "$bin" ]]; then
  command -v apt-get >/dev/null 2>&1 || die "Chromium is not installed and there is no apt-get"
  [[ "$(id -u)" == 0 ]] || die "Chromium is not installed; run as root to install it"
  echo "chromium.sh: installing Chromium (apt-get)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  # Fonts with Latin and symbol coverage, so screenshots show text rather than boxes.
  apt-get install -y -qq chromium fonts-dejavu-core >&2
  [[ -x "$bin" ]] || die "apt-get ran but $bin is still missing"
fi
echo "$bin"
