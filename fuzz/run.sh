#!/usr/bin/env bash
# Bounded fuzz run of every target (or those named): SECONDS each (default 90).
#   fuzz/run.sh [SECONDS] [TARGET...]
# Needs cargo-fuzz (`cargo install cargo-fuzz`). On a stable toolchain,
# RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its -Z flags; `-s none`: no
# AddressSanitizer (bytegate has no unsafe code of its own; panics, overflow
# checks and debug assertions are what the targets check).
# Starts from fuzz/regressions/TARGET (kept in git) and fuzz/corpus/TARGET
# (the working corpus, not kept); a crash lands in fuzz/artifacts/TARGET.
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-90}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(webhook command config review)
mkdir -p logs
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t"
    RUSTC_BOOTSTRAP=1 cargo fuzz run -s none "$t" "corpus/$t" "regressions/$t" -- \
        -max_total_time="$secs" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
        >"logs/$t.log" 2>&1 || echo "$t: exit $? (see fuzz/logs/$t.log)"
    echo "== $t"
    grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)|^stat::number_of_executed_units|^stat::average_exec_per_sec|^stat::peak_rss_mb|^Done [0-9]+ runs|SUMMARY|panicked' "logs/$t.log" || true
    ls "artifacts/$t" 2>/dev/null | sed 's/^/artifact: /' || true
done
