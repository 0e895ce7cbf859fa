#!/usr/bin/env bash
# bytegate review vs Squawk over the same migration files, in one run.
#
#   benches/compare_squawk.sh [CORPUS_DIR]     (default ../shared/upstream/corpus/lemmy)
#
# Needs: squawk (pip install squawk-cli), hyperfine (apt-get install hyperfine),
# GNU time (/usr/bin/time). Both tools get the same file list (every .sql below
# the corpus, sorted) and write JSON to /dev/null; both exit 1 on findings, so
# hyperfine ignores exit codes. Peak RSS comes from /usr/bin/time -v (best of 5).
# RUNS (default 20) sets hyperfine's run count.
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=${1:-../shared/upstream/corpus/lemmy}
runs=${RUNS:-20}
# BYTEGATE_BIN: time another build (e.g. one with LTO) instead of building target/release.
if [[ -n ${BYTEGATE_BIN:-} ]]; then
  bin=$BYTEGATE_BIN
else
  cargo build --release --quiet --bin bytegate
  bin=$PWD/target/release/bytegate
fi
# Time the squawk executable itself, not a pyenv shim (a bash script that
# would add its own start-up time and memory to squawk's figures).
squawk=$(command -v squawk)
if command -v pyenv > /dev/null && [[ $squawk == */shims/* ]]; then squawk=$(pyenv which squawk); fi
mapfile -t files < <(find "$corpus" -name '*.sql' | sort)
bytes=$(cat "${files[@]}" | wc -c)
list=$(printf '%q ' "${files[@]}")
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo "corpus: $corpus (${#files[@]} files, $bytes bytes)"
echo "bytegate: $($bin --version)   squawk: $($squawk --version) ($squawk)"
echo "machine: $(nproc) CPUs, load average $(cut -d" " -f1-3 /proc/loadavg)"
statements=$("$bin" review --format json "${files[@]}" | python3 -c 'import json,sys; r=json.load(sys.stdin); print(sum(f["statements"] for f in r["files"]))' || true)
echo "statements (bytegate's count): $statements"

hyperfine --shell=bash --warmup 3 --runs "$runs" -i --export-json "$out/h.json" \
  -n bytegate "$bin review --format json $list > /dev/null" \
  -n squawk "$squawk --reporter json $list > /dev/null"

peak() { # best-of-5 peak RSS in KB of a command
  local best=
  for _ in 1 2 3 4 5; do
    local kb
    kb=$( { /usr/bin/time -v "$@" > /dev/null; } 2>&1 | awk -F': ' '/Maximum resident/ {print $2}')
    if [[ -z $best || $kb -lt $best ]]; then best=$kb; fi
  done
  echo "$best"
}
rss_b=$(peak "$bin" review --format json "${files[@]}")
rss_s=$(peak "$squawk" --reporter json "${files[@]}")

python3 - "$out/h.json" "$bytes" "${statements:-0}" "$rss_b" "$rss_s" <<'PY'
import json, sys
h = json.load(open(sys.argv[1]))
size, stmts, rss_b, rss_s = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
r = {x["command"]: x for x in h["results"]}
b, s = r["bytegate"], r["squawk"]
def line(name, x, rss):
    m = x["median"]
    print(f"| {name} | {m*1e3:.1f} ms | {min(x['times'])*1e3:.1f} ms | {x['user']*1e3:.0f}+{x['system']*1e3:.0f} ms "
          f"| {size/1e6/m:.1f} MB/s | {stmts/m:,.0f} | {rss/1024:.1f} MB |")
print()
print("| tool | median wall | best wall | user+sys CPU | MB/s (median) | statements/s | peak RSS |")
print("|---|---|---|---|---|---|---|")
line("bytegate review", b, rss_b)
line("squawk", s, rss_s)
print()
print(f"throughput ratio bytegate/squawk (median wall): {s['median']/b['median']:.2f}x; "
      f"peak RSS ratio: {rss_b/rss_s:.2f}")
PY
