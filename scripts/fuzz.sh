#!/usr/bin/env bash
# Coverage-guided fuzzing of every decoder a client reaches (fuzz/README.md).
#
#   scripts/fuzz.sh [seconds-per-target] [target...]
#
# Installs cargo-fuzz (pinned) if it is missing, builds the targets of fuzz/ on the stable
# toolchain (no sanitizer: stable Rust cannot build one; libFuzzer's coverage instrumentation
# and the targets' own assertions, allocation bounds included, do the work), then runs each
# target for the given time (default 30 s) on its committed corpus. Exits non-zero if any target
# crashes, with the crashing input under fuzz/artifacts/<target>/.
#
# Needs: rustup's stable toolchain and a C++ compiler (libFuzzer is C++; installed with apt-get
# when missing and possible). Environment: CARGO_BUILD_JOBS is honoured; FUZZ_ARGS adds libFuzzer
# flags (e.g. FUZZ_ARGS=-max_len=16384).
set -euo pipefail

CARGO_FUZZ_VERSION=0.13.2
SECONDS_PER_TARGET=${1:-30}
shift || true

root=$(cd "$(dirname "$0")/.." && pwd)
fuzz="$root/fuzz"
cd "$fuzz"

case $SECONDS_PER_TARGET in
  '' | *[!0-9]*) echo "usage: scripts/fuzz.sh [seconds-per-target] [target...]" >&2; exit 2 ;;
esac

# cargo-fuzz, pinned: installed once, a version check afterwards.
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
if [ "$(cargo fuzz --version 2>/dev/null || true)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
  echo "fuzz: installing cargo-fuzz $CARGO_FUZZ_VERSION"
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked --force
fi

# libFuzzer is C++, built by libfuzzer-sys with the system's compiler.
if ! command -v c++ >/dev/null && ! command -v g++ >/dev/null && ! command -v clang++ >/dev/null; then
  if command -v apt-get >/dev/null; then
    echo "fuzz: installing g++ (libFuzzer is C++)"
    sudo_=""
    [ "$(id -u)" = 0 ] || sudo_="sudo"
    $sudo_ apt-get update -qq && $sudo_ apt-get install -y -qq g++ >/dev/null
  else
    echo "fuzz: a C++ compiler is needed (libFuzzer is C++): install g++ or clang++" >&2
    exit 1
  fi
fi

if [ $# -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo fuzz list)
fi

# Release with debug assertions and overflow checks (cargo-fuzz's default), no sanitizer.
echo "fuzz: building ${targets[*]}"
cargo fuzz build --sanitizer none

# Each target runs on a scratch copy of its corpus (libFuzzer adds what it finds to the first
# directory): the committed seeds change only when minimised on purpose (fuzz/README.md).
failed=()
mkdir -p "$fuzz/target/fuzz-logs"
for t in "${targets[@]}"; do
  work="$fuzz/target/fuzz-corpus/$t"
  log="$fuzz/target/fuzz-logs/$t.log"
  mkdir -p "$work" "$fuzz/corpus/$t"
  status=0
  cargo fuzz run --sanitizer none "$t" "$work" "$fuzz/corpus/$t" -- \
    -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -print_final_stats=1 ${FUZZ_ARGS:-} \
    >"$log" 2>&1 || status=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  if [ "$status" = 0 ]; then
    echo "fuzz: $t: ok, ${runs:-?} executions in ${SECONDS_PER_TARGET} s"
  else
    failed+=("$t")
    echo "fuzz: $t: FAILED (exit $status) after ${runs:-?} executions; log: $log" >&2
    grep -E -A12 "panicked at|ERROR: libFuzzer|SUMMARY" "$log" | head -40 >&2 || tail -40 "$log" >&2
    ls "$fuzz/artifacts/$t" 2>/dev/null | sed "s|^|fuzz:   fuzz/artifacts/$t/|" >&2 || true
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: crashes in: ${failed[*]} (reproduce: cd fuzz && cargo fuzz run --sanitizer none <target> <artifact>)" >&2
  exit 1
fi
echo "fuzz: all ${#targets[@]} targets ran ${SECONDS_PER_TARGET} s without a crash"
