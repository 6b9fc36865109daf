#!/usr/bin/env bash
# Installs the Debian packages faultline needs, and only those that are missing:
# apt-get update runs once, and only when something has to be installed.
# Idempotent; safe to run before every build.
set -euo pipefail

# chromium and zlib1g-dev: the map test opens the page headless and decodes its screenshot.
packages=(gcc make cmake clang libclang-rt-14-dev llvm valgrind chromium zlib1g-dev afl++
          libjemalloc2 libtcmalloc-minimal4 libmimalloc2.0)  # the oracle's real allocators (tests/oracle)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "setup: missing packages: ${missing[*]} (run as root, or install them)" >&2
  exit 3
fi
echo "setup: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
