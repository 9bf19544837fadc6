#!/usr/bin/env bash
# Run one fuzz target for a bounded time: fuzz/run.sh TARGET SECONDS [extra libFuzzer flags]
#
# Targets: parse_lint, config, kustomize_eval (see fuzz/src/harness.rs). The seed corpus in
# fuzz/seeds/TARGET is read-only; what the fuzzer finds goes to fuzz/corpus/TARGET (ignored
# by git) and crashes to fuzz/artifacts/TARGET. Copy a crash into fuzz/regressions/TARGET/ once
# it is fixed: `cargo test` replays every file there.
#
# Built with nightly when there is one, else on stable with RUSTC_BOOTSTRAP=1 (cargo-fuzz
# passes a few -Z flags). No sanitizer by default: the crate has no `unsafe`, and
# AddressSanitizer makes the engine ten times slower (16 instead of 160 inputs a second), so
# panics, hangs and runaway memory are found sooner without it. FUZZ_SANITIZER=address (needs
# nightly) turns it on. FUZZ_STABLE=1 forces the stable path, FUZZ_CODEGEN_UNITS=16 builds
# faster (CI) at some cost in speed.
# Needs cargo-fuzz: `cargo install cargo-fuzz --locked`.
set -euo pipefail
target=${1:?usage: fuzz/run.sh TARGET SECONDS [libFuzzer flags...]}
seconds=${2:?usage: fuzz/run.sh TARGET SECONDS [libFuzzer flags...]}
shift 2
cd "$(dirname "$0")/.."

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz/run.sh: cargo-fuzz is missing; install it with: cargo install cargo-fuzz --locked" >&2
  exit 2
fi

toolchain=()
if [ -z "${FUZZ_STABLE:-}" ] && rustup run nightly true >/dev/null 2>&1; then
  toolchain=(+nightly)
else
  export RUSTC_BOOTSTRAP=1
fi
build=(--release --sanitizer "${FUZZ_SANITIZER:-none}")
if [ -n "${FUZZ_CODEGEN_UNITS:-}" ]; then
  build+=(--codegen-units "$FUZZ_CODEGEN_UNITS")
fi

mkdir -p "fuzz/corpus/$target" "fuzz/artifacts/$target"
# -timeout: an input taking longer than 10 s is a hang; -rss_limit_mb: 2 GiB is a leak or a
# bomb.
exec cargo "${toolchain[@]}" fuzz run "${build[@]}" "$target" \
  "fuzz/corpus/$target" "fuzz/seeds/$target" -- \
  -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
  -artifact_prefix="fuzz/artifacts/$target/" -print_final_stats=1 "$@"
