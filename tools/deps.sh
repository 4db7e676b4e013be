#!/usr/bin/env bash
# Installs the Debian packages ping_exporter needs. Usage: tools/deps.sh build|test
# "build": compile and run. "test": also everything the test suite and benchmarks use.
# Skips apt entirely when everything is already installed.
set -euo pipefail

BUILD_PACKAGES=(
  build-essential cmake pkg-config git
  prometheus-cpp-dev libcivetweb-dev libtomlplusplus-dev libcli11-dev
  zlib1g-dev libssl-dev libcrypt-dev libyaml-cpp-dev libyaml-dev libgtest-dev libc-ares-dev
  libprotobuf-dev protobuf-compiler golang-github-prometheus-client-model-dev
)
TEST_PACKAGES=(
  prometheus fping nftables iproute2 iputils-ping procps curl openssl apache2-utils
  python3 python3-pytest python3-yaml python3-requests python3-bcrypt yamllint
  golang-go golang-github-masterminds-sprig-dev
  clang-14 libfuzzer-14-dev libclang-rt-14-dev clang-format-14
  chromium prometheus-smokeping-prober
  nlohmann-json3-dev
)

mode="${1:-build}"
packages=("${BUILD_PACKAGES[@]}")
if [[ "$mode" == "test" ]]; then
  packages+=("${TEST_PACKAGES[@]}")
elif [[ "$mode" != "build" ]]; then
  echo "usage: $0 build|test" >&2
  exit 2
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} == 0)); then
  exit 0
fi
echo "installing: ${missing[*]}" >&2
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
# The Debian prometheus package may try to start its service; nothing here needs it.
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
