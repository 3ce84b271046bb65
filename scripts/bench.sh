#!/usr/bin/env bash
# The HTTP load benchmark in one command (see BENCHMARKS.md):
#   scripts/bench.sh [keyward-bench options...]
# Builds keyward and keyward-bench in release mode, makes sure .venv-bench has
# moto's server (`moto[server]` from PyPI), then measures keyward and moto
# side by side in one run. Extra arguments go to keyward-bench, e.g.
#   scripts/bench.sh --duration 5 --json bench.json
# The cost of the durable audit trail (GenerateDataKey with the trail on and
# off; the second keyward runs with the benchmark-only switch
# --benchmark-only-disable-trail, target keyward-trail-off):
#   scripts/bench.sh --trail-comparison --operations generate-data-key --concurrency 1,16,64
# Run it on an otherwise idle machine: client and servers share the cores.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# moto's version is pinned so that runs stay comparable over time.
MOTO_SPEC="${MOTO_SPEC:-moto[server]==5.2.5}"
VENV=.venv-bench

step() { printf '\n==> %s\n' "$*" >&2; }

if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    step "installing python3-venv"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq python3-venv python3-pip >/dev/null
fi
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import sys' 2>/dev/null; then
    step "creating $VENV"
    rm -rf "$VENV"
    python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -m pip show --quiet moto >/dev/null 2>&1 ||
    [ "$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("moto"))')" != "${MOTO_SPEC##*==}" ]; then
    step "installing $MOTO_SPEC into $VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$MOTO_SPEC"
fi

step "cargo build --release -p keyward -p keyward-bench"
cargo build --release -p keyward -p keyward-bench

TARGET_DIR="$(cargo metadata --format-version 1 --no-deps |
    "$VENV/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"

step "keyward-bench: keyward vs moto"
exec "$TARGET_DIR/release/keyward-bench" \
    --spawn-keyward "$TARGET_DIR/release/keyward" \
    --spawn-moto "$VENV/bin/moto_server" \
    "$@"
