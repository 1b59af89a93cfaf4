#!/usr/bin/env bash
# Installs what is missing, builds, and starts a local Tandem cluster in the
# foreground (Ctrl-C stops it). Extra arguments go to `tandemctl cluster up`.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh tandemd tandemctl
exec ./build/tandemctl cluster up "$@"
