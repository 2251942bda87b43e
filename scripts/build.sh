#!/bin/sh
# Builds the Worker (build/index.js + build/index_bg.wasm) with worker-build, offline:
# worker-build would otherwise download wasm-bindgen and wasm-opt (see ../shared/TOOLCHAIN.md).
# SKIP_BUILD=1 reuses an existing build (the e2e harness builds once, then starts many servers).
# CARGO_FEATURES=fault-injection is the end-to-end tests' build (tests/e2e/run.mjs sets it): it can
# inject a storage fault (FAULT_INJECTION); a release build, `wrangler dev` and `deploy` cannot.
set -eu
cd "$(dirname "$0")/.."
if [ "${SKIP_BUILD:-}" = "1" ] && [ -f build/index.js ]; then
  exit 0
fi
export WASM_BINDGEN_BIN="${WASM_BINDGEN_BIN:-$HOME/.cargo/bin/wasm-bindgen}"
if [ -z "${WASM_OPT_BIN:-}" ] && [ -x node_modules/binaryen/bin/wasm-opt ]; then
  export WASM_OPT_BIN="$PWD/node_modules/binaryen/bin/wasm-opt"
fi
if [ -z "${ESBUILD_BIN:-}" ] && [ -x node_modules/@esbuild/linux-x64/bin/esbuild ]; then
  export ESBUILD_BIN="$PWD/node_modules/@esbuild/linux-x64/bin/esbuild"
fi
if [ -n "${CARGO_FEATURES:-}" ]; then
  exec "${WORKER_BUILD_BIN:-$HOME/.cargo/bin/worker-build}" --release --features "$CARGO_FEATURES"
fi
exec "${WORKER_BUILD_BIN:-$HOME/.cargo/bin/worker-build}" --release
