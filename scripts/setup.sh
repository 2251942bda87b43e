#!/usr/bin/env bash
# Everything a machine with only Rust (rustup) and Node needs before it can build, run and test:
# the wasm32 target, worker-build and the wasm-bindgen CLI (pinned to the versions in Cargo.toml /
# ../shared/TOOLCHAIN.md), the npm packages (wrangler, Node 22, binaryen, the published LiveStore
# packages, playwright-core and @sparticuz/chromium, whose package carries the browser) and the
# example app's packages. `npm run dev` and `npm test` call it first.
#
# Idempotent and quick when nothing is missing (about a second): each step checks first, and the
# npm installs run only when package-lock.json changed since the last install.
set -euo pipefail
cd "$(dirname "$0")/.."

WORKER_BUILD_VERSION=0.8.7
WASM_BINDGEN_VERSION=0.2.130
export PATH="$HOME/.cargo/bin:$PATH"

step() { printf '> setup: %s\n' "$*"; }

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  step "rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

if ! worker-build --version 2>/dev/null | grep -q "$WORKER_BUILD_VERSION"; then
  step "cargo install worker-build $WORKER_BUILD_VERSION (a few minutes, once)"
  cargo install worker-build --version "$WORKER_BUILD_VERSION" --locked
fi

# Not --locked: the lock file of wasm-bindgen-cli names a webpki-roots version the registry lacks.
if ! wasm-bindgen --version 2>/dev/null | grep -q "$WASM_BINDGEN_VERSION"; then
  step "cargo install wasm-bindgen-cli $WASM_BINDGEN_VERSION (a few minutes, once)"
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
fi

# npm ci in $1 unless its node_modules was installed from the same package-lock.json.
npm_install() {
  local dir=$1 marker="$1/node_modules/.installed-from-lock"
  local lock_hash
  lock_hash=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
  if [ -f "$marker" ] && [ "$(cat "$marker")" = "$lock_hash" ]; then
    return 0
  fi
  step "npm ci in ${dir}"
  (cd "$dir" && npm ci --no-audit --no-fund)
  echo "$lock_hash" > "$marker"
}

npm_install .
npm_install examples/web
