#!/usr/bin/env bash
# Installs what is missing, builds with warnings as errors and ASan + UBSan (the "ci" preset),
# and runs every test through CTest.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
jobs=$(nproc)
cmake --preset ci
cmake --build --preset ci -j "$jobs"
ctest --preset ci -j "$jobs"

# The packages, in CI only (it installs and removes system packages): build them, install them,
# use them, remove them (scripts/check-packages.sh, docs/install.md).
if [ "${CI:-}" = true ] || [ "${RELAIS_CHECK_PACKAGES:-}" = 1 ]; then
  bash scripts/package.sh
  bash scripts/check-packages.sh
fi
