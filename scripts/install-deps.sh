#!/usr/bin/env bash
# Installs the Debian 12 packages Relais needs to build, test and run, skipping the ones
# already there (so a machine that has them needs no network at all).
# --list prints the packages, one a line, and installs nothing (scripts/check-build-deps.py).
set -euo pipefail

packages=(
  build-essential cmake pkg-config git
  libsqlite3-dev sqlite3
  libcurl4-openssl-dev nlohmann-json3-dev
  libimgui-dev libglfw3-dev libstb-dev libx11-dev libxext-dev  # the app: Xlib and MIT-SHM for its software renderer
  libxrandr-dev libxrender-dev  # GLFW/glfw3native.h (the X11 presenter) includes Xrandr.h, which includes Xrender.h
  catch2 libcpp-httplib-dev libxlsxwriter-dev python3-openpyxl
  libssl-dev zlib1g-dev
  fonts-dejavu-core xvfb xauth libgl1-mesa-dri
  file curl appstream desktop-file-utils  # packages: CPack (file), scripts/check-packages.sh
  clang-14 libfuzzer-14-dev libclang-rt-14-dev  # the libFuzzer targets (tests/fuzz, scripts/fuzz.sh)
)

if [ "${1:-}" = --list ]; then
  printf '%s\n' "${packages[@]}"
  exit 0
fi

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages are installed"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: run as root (or install these packages with sudo apt-get install)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
