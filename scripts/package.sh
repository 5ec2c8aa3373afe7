#!/usr/bin/env bash
# Builds the packages (docs/install.md): a Release build of the three binaries in build/package
# (no tests, no benchmarks), then CPack: relais, relais-common and relais-server .deb files and
# the relocatable relais-VERSION-linux-ARCH.tar.gz, in build/package/packages/.
# RELAIS_PACKAGE_DIR overrides the build folder; RELAIS_JOBS the build's -j (default: nproc).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
build=${RELAIS_PACKAGE_DIR:-build/package}
jobs=${RELAIS_JOBS:-$(nproc)}
source_dir=$(pwd)

# -ffile-prefix-map: no path of this clone in the binaries (__FILE__ and the like).
cmake -S . -B "$build" \
  -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_INSTALL_PREFIX=/usr \
  -DCMAKE_CXX_FLAGS="-ffile-prefix-map=$source_dir/=" \
  -DRELAIS_BUILD_TESTS=OFF \
  -DRELAIS_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build "$build" -j "$jobs" --target relais relais-cli relais-server relais_assets

rm -rf "$build/packages"
(cd "$build" && cpack -C Release)
ls -l "$build/packages"/*.deb "$build/packages"/*.tar.gz
