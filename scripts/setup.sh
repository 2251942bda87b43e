#!/usr/bin/env bash
# One-time setup of a fresh machine: the wasm target, worker-build and the wasm-bindgen CLI
# (pinned to the versions in Cargo.toml / ../shared/TOOLCHAIN.md), and the npm packages
# (wrangler, Node 22, binaryen, the published LiveStore packages the tests drive).
# Safe to re-run: each step is skipped when already satisfied.
set -euo pipefail
cd "$(dirname "$0")/.."

WORKER_BUILD_VERSION=0.8.7
WASM_BINDGEN_VERSION=0.2.130
export PATH="$HOME/.cargo/bin:$PATH"

rustup target add wasm32-unknown-unknown

if ! worker-build --version 2>/dev/null | grep -q "$WORKER_BUILD_VERSION"; then
  cargo install worker-build --version "$WORKER_BUILD_VERSION" --locked
fi

# Not --locked: the lock file of wasm-bindgen-cli names a webpki-roots version the registry lacks.
if ! wasm-bindgen --version 2>/dev/null | grep -q "$WASM_BINDGEN_VERSION"; then
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
fi

npm ci --no-audit --no-fund
