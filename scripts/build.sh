#!/usr/bin/env bash
# Configures and builds Tandem (release preset) into build/.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --preset release >/dev/null
ninja -C build -j"$(nproc)" "$@"
