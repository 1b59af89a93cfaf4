#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: unit tests and the
# replication simulation (ctest), short fuzz runs, and the integration tests
# that drive real tandemd processes (pytest). Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
step() { printf '\n=== %s (%ss)\n' "$*" "$(( $(date +%s) - start ))"; }

step "install dependencies"
./scripts/install-deps.sh

step "build (release)"
./scripts/build.sh

step "unit tests and simulation (ctest)"
ctest --test-dir build --output-on-failure -j"$(nproc)" --timeout 900

step "unit tests under AddressSanitizer + UndefinedBehaviorSanitizer (debug preset)"
cmake --preset debug >/dev/null
ninja -C build-debug -j"$(nproc)"
TANDEM_SIM_SEEDS=200 ctest --test-dir build-debug --output-on-failure -j"$(nproc)" --timeout 900

step "fuzz targets (clang, libFuzzer, short runs)"
FUZZ_SECONDS="${FUZZ_SECONDS:-30}" ./scripts/fuzz.sh

step "integration tests (pytest, real tandemd processes)"
# Debian's python3-redis and python3-pytest belong to /usr/bin/python3.
TANDEM_BUILD_DIR="$PWD/build" /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/integration
TANDEM_BUILD_DIR="$PWD/build" /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/cluster

step "chaos: fault injection with linearizability and durability checks (CI schedule)"
TANDEM_BUILD_DIR="$PWD/build" /usr/bin/python3 tests/chaos/run.py --ci
TANDEM_BUILD_DIR="$PWD/build" /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/chaos

step "all tests passed"
