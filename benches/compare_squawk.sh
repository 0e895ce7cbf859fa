#!/usr/bin/env bash
# bytegate review vs Squawk over the same migration files, side by side.
#
#   benches/compare_squawk.sh [CORPUS_DIR]     (default ../shared/upstream/corpus/lemmy)
#
# Needs: squawk (pip install squawk-cli), hyperfine (apt-get install hyperfine),
# GNU time (/usr/bin/time), python3. Both tools get the same file list (every
# .sql below the corpus, sorted) and write JSON to /dev/null; both exit 1 on
# findings, so hyperfine ignores exit codes. Peak RSS comes from
# /usr/bin/time -v (best of RSS_RUNS, default 5).
#
# COPIES (default "1 20") lists corpus sizes: for N > 1 the corpus is copied N
# times into a temp dir (c01/ ... cNN/, reviewed in that order), so both tools
# see N times the files and bytes. RUNS (default 20) is hyperfine's run count
# for the 1x corpus; larger copies get RUNS_LARGE (default 5).
# BYTEGATE_BIN: time another build (e.g. `cargo build --profile dist`)
# instead of building target/release.
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=$(realpath "${1:-../shared/upstream/corpus/lemmy}")
copies=${COPIES:-1 20}
runs=${RUNS:-20}
runs_large=${RUNS_LARGE:-5}
rss_runs=${RSS_RUNS:-5}
if [[ -n ${BYTEGATE_BIN:-} ]]; then
  bin=$(realpath "$BYTEGATE_BIN")
else
  cargo build --release --quiet --bin bytegate
  bin=$PWD/target/release/bytegate
fi
# Time the squawk executable itself, not a pyenv shim (a bash script that
# would add its own start-up time and memory to squawk's figures).
squawk=$(command -v squawk)
if command -v pyenv > /dev/null && [[ $squawk == */shims/* ]]; then squawk=$(pyenv which squawk); fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo "bytegate: $($bin --version) ($bin)   squawk: $($squawk --version) ($squawk)"
echo "machine: $(nproc) CPUs"

peak() { # best-of-N peak RSS in KB of a command
  local best=
  for _ in $(seq "$rss_runs"); do
    local kb
    kb=$( { /usr/bin/time -v "$@" > /dev/null; } 2>&1 | awk -F': ' '/Maximum resident/ {print $2}')
    if [[ -z $best || $kb -lt $best ]]; then best=$kb; fi
  done
  echo "$best"
}

for n in $copies; do
  if [[ $n == 1 ]]; then
    root=$corpus
    r=$runs
  else
    root=$out/x$n
    for i in $(seq -w 1 "$n"); do mkdir -p "$root" && cp -r "$corpus" "$root/c$i"; done
    r=$runs_large
  fi
  # Relative paths from the corpus root: the 20x list would not fit in one
  # command-line string, so each tool runs from a small script reading it.
  (cd "$root" && find . -name '*.sql' | sed 's|^\./||' | sort) > "$out/files$n"
  mapfile -t files < "$out/files$n"
  bytes=$(cd "$root" && cat "${files[@]}" | wc -c)
  printf 'cd %q && mapfile -t f < %q && exec %q review --format json "${f[@]}" > /dev/null\n' \
    "$root" "$out/files$n" "$bin" > "$out/b$n.sh"
  printf 'cd %q && mapfile -t f < %q && exec %q --reporter json "${f[@]}" > /dev/null\n' \
    "$root" "$out/files$n" "$squawk" > "$out/s$n.sh"
  statements=$(cd "$root" && "$bin" review --format json "${files[@]}" \
    | python3 -c 'import json,sys; r=json.load(sys.stdin); print(sum(f["statements"] for f in r["files"]))' || true)

  echo
  echo "== ${n}x: $corpus (${#files[@]} files, $bytes bytes, $statements statements by bytegate's count)"
  echo "load average before: $(cut -d" " -f1-3 /proc/loadavg)"
  hyperfine --warmup 2 --runs "$r" -i --export-json "$out/h$n.json" \
    -n bytegate "bash $out/b$n.sh" -n squawk "bash $out/s$n.sh"
  rss_b=$(cd "$root" && peak "$bin" review --format json "${files[@]}")
  rss_s=$(cd "$root" && peak "$squawk" --reporter json "${files[@]}")
  echo "load average after: $(cut -d" " -f1-3 /proc/loadavg)"

  python3 - "$out/h$n.json" "$bytes" "${statements:-0}" "$rss_b" "$rss_s" "$n" <<'PY'
import json, sys
h = json.load(open(sys.argv[1]))
size, stmts, rss_b, rss_s, n = (int(a) for a in sys.argv[2:7])
r = {x["command"]: x for x in h["results"]}
b, s = r["bytegate"], r["squawk"]
def cpu(x):
    return x["user"] + x["system"]
def line(name, x, rss):
    m = x["median"]
    print(f"| {n}x | {name} | {m*1e3:.1f} ms | {min(x['times'])*1e3:.1f} ms "
          f"| {x['user']*1e3:.0f}+{x['system']*1e3:.0f} = {cpu(x)*1e3:.0f} ms "
          f"| {size/1e6/m:.1f} MB/s | {size/1e6/cpu(x):.1f} MB/s | {stmts/m:,.0f} | {rss/1024:.1f} MB |")
print()
print("| corpus | tool | median wall | best wall | user+sys CPU (mean) | MB/s (wall) | MB/s (CPU) | statements/s (wall) | peak RSS |")
print("|---|---|---|---|---|---|---|---|---|")
line("bytegate review", b, rss_b)
line("squawk", s, rss_s)
print()
print(f"{n}x ratios bytegate vs squawk: CPU throughput {cpu(s)/cpu(b):.2f}x, "
      f"wall throughput (median) {s['median']/b['median']:.2f}x, peak RSS {rss_b/rss_s:.2f} "
      f"({rss_b/1024:.1f} vs {rss_s/1024:.1f} MB)")
PY
done
