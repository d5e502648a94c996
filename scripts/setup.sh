#!/usr/bin/env bash
# Installs what building and testing medtap needs on Debian, when missing.
# Safe to run again: it only installs what is absent.
set -euo pipefail

need=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for pkg in libpcap-dev pkg-config tcpdump util-linux rsyslog rsyslog-openssl openssl redis-server tcpreplay iproute2 mosquitto python3-paho-mqtt nftables \
    dcmtk mosquitto-clients python3-hl7 iputils-ping; do
  have_pkg "$pkg" || need+=("$pkg")
done
# systemd-analyze checks the packaged unit in the tests.
command -v systemd-analyze >/dev/null 2>&1 || have_pkg systemd || need+=(systemd)
for pkg in "$@"; do
  have_pkg "$pkg" || need+=("$pkg")
done

if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing packages: ${need[*]} (run as root, or install them)" >&2
    exit 1
  fi
  echo "setup: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  # rustup installs into ~/.cargo/bin, which a non-login shell may not have.
  if [ -x "$HOME/.cargo/bin/cargo" ]; then
    echo "setup: add \$HOME/.cargo/bin to PATH" >&2
  fi
  echo "setup: cargo not found; install Rust (https://rustup.rs)" >&2
  exit 1
fi
