#!/usr/bin/env bash
# Installs what is missing, builds with warnings as errors and ASan + UBSan (the "ci" preset),
# and runs every test through CTest; in CI (or with RELAIS_FUZZ=1) the fuzz targets too.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
jobs=$(nproc)
cmake --preset ci
cmake --build --preset ci -j "$jobs"
ctest --preset ci -j "$jobs"

# The libFuzzer targets (tests/fuzz), in CI or on request: a clang build of what they need, then
# 40 s each from the seed corpora (scripts/fuzz.sh; FUZZ_SECONDS sets the time), which keeps a
# whole CI run near 25 minutes on 2 cores.
if [ "${CI:-}" = true ] || [ "${RELAIS_FUZZ:-}" = 1 ]; then
  FUZZ_SECONDS=${FUZZ_SECONDS:-40} bash scripts/fuzz.sh
fi

# The packages, in CI only (it installs and removes system packages): build them, install them,
# use them, remove them (scripts/check-packages.sh, docs/install.md).
if [ "${CI:-}" = true ] || [ "${RELAIS_CHECK_PACKAGES:-}" = 1 ]; then
  bash scripts/package.sh
  bash scripts/check-packages.sh
fi
