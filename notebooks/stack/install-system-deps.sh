#!/usr/bin/env bash
# Installs the Debian packages opsbook's tests need (no argument) or the demo needs (--demo: the local stack and
# Jupyter to open the runbooks afterwards; no browser, no test tools), only those missing (needs root or sudo).
set -euo pipefail
packages=(python3-jupyter-client jupyter-client jupyter-nbconvert jupyter-notebook jupyter-nbformat prometheus prometheus-pushgateway docker.io busybox-static)
[ "${1:-}" = --demo ] || packages+=(jupyter-console python3-ipykernel python3-jupyter-kernel-test black chromium)
missing=()
for p in "${packages[@]}"; do
  # Any Docker engine already installed will do (docker-ce and moby-engine conflict with docker.io).
  [ "$p" = docker.io ] && command -v docker >/dev/null && command -v dockerd >/dev/null && continue
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages: all present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "system packages: installing ${missing[*]}"
$SUDO apt-get update -qq
# The packaged prometheus/pushgateway/docker services are never used (tests start their own Prometheus on free ports;
# .ci/run and notebooks/stack/engine.ts start dockerd themselves): a temporary policy-rc.d (101 = action forbidden) keeps
# apt from starting them, so a failing init script cannot fail the install.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
  $SUDO chmod 755 "$policy"
  trap '$SUDO rm -f "$policy"' EXIT
fi
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
