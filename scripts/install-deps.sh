#!/usr/bin/env bash
# Installs what building and testing chat-host needs on Debian 12, and only
# what is missing: quick and quiet when everything is already there.
#   scripts/install-deps.sh          build and run
#   scripts/install-deps.sh --test   also what the tests need
set -euo pipefail

packages=(
  cmake ninja-build g++ pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libboost1.81-dev libboost-json1.81-dev libboost-program-options1.81-dev
  libtomlplusplus-dev libspdlog-dev libsqlite3-dev
)
if [[ "${1:-}" == "--test" ]]; then
  packages+=(libgtest-dev curl)
fi

missing=()
for package in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$package")
done

if ((${#missing[@]})); then
  echo "Installing: ${missing[*]}"
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
