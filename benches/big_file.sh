#!/usr/bin/env bash
# `bytegate review` on one generated, untrusted-size migration file.
#
#   benches/big_file.sh [MB ...]        (default: 5 10 20 50)
#
# For each size, generates MB megabytes of SQL in which a fifth of the
# statements are `ALTER TABLE users ADD COLUMN cN int;` and a fifth
# `CREATE INDEX users_cN ON users (cN);` (hundreds of thousands of columns and
# indexes on ONE table, the schema model's worst case), the rest CREATE TABLE,
# INSERT and UPDATE on many tables. Each file is reviewed with the cap raised
# above its size (`--max-file-bytes`), timed with /usr/bin/time -v (wall, peak
# RSS), and the seconds per MB show whether the review is linear. The largest
# file is then reviewed with the default cap (review.max_file_bytes, 5 MiB):
# the `file-too-large` finding comes back at once.
# One-table cases follow at 1x and 4x to show the per-table lookups are
# linear: 200k ADD COLUMN; 200k CREATE INDEX; indexes on one column, then that
# column renamed back and forth; foreign keys, then column drops.
#
# Needs GNU time (/usr/bin/time) and python3. BYTEGATE_BIN times another
# build; otherwise target/release/bytegate is built.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -n ${BYTEGATE_BIN:-} ]]; then
  bin=$BYTEGATE_BIN
else
  cargo build --release --quiet --bin bytegate
  bin=$PWD/target/release/bytegate
fi
sizes=("$@")
[[ ${#sizes[@]} -gt 0 ]] || sizes=(5 10 20 50)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

# gen MODE BYTES FILE: mixed | columns | indexes
gen() {
  python3 - "$1" "$2" "$3" <<'PY'
import sys
mode, size, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
out, n, i = [], 0, 0
while n < size:
    if mode == "columns":
        s = f"ALTER TABLE users ADD COLUMN c{i} int;\n"
    elif mode == "renames":
        # First half: indexes on one column; second half: that column renamed back and forth.
        if n < size // 2:
            s = f"CREATE INDEX users_a{i} ON users (a);\n"
        else:
            s = "ALTER TABLE users RENAME COLUMN a TO b;\n" if i % 2 else "ALTER TABLE users RENAME COLUMN b TO a;\n"
    elif mode == "fks":
        # First half: foreign keys on one table; second half: other columns dropped.
        if n < size // 2:
            s = f"ALTER TABLE users ADD FOREIGN KEY (p{i}) REFERENCES p (id);\n"
        else:
            s = f"ALTER TABLE users DROP COLUMN x{i};\n"
    elif mode == "indexes":
        s = f"CREATE INDEX users_c{i} ON users (c{i % 1000}, id);\n"
    else:
        k = i % 5
        if k == 0:
            s = f"ALTER TABLE users ADD COLUMN c{i} int;\n"
        elif k == 1:
            s = f"CREATE INDEX users_c{i} ON users (c{i - 1});\n"
        elif k == 2:
            s = f"CREATE TABLE t{i} (id bigint PRIMARY KEY, v text NOT NULL DEFAULT 'x');\n"
        elif k == 3:
            s = f"INSERT INTO t{i - 1} (id, v) VALUES ({i}, 'value {i}');\n"
        else:
            s = f"UPDATE t{i - 2} SET v = 'y' WHERE id = {i};\n"
    out.append(s)
    n += len(s)
    i += 1
open(path, "w").write("".join(out))
PY
}

# run FILE ARGS...: prints wall s, peak RSS MB, exit, statements, errors.
run() {
  local file=$1
  shift
  local t0 t1 code=0
  t0=$(date +%s.%N)
  /usr/bin/time -v -o "$dir/time" "$bin" review --format json "$@" "$file" > "$dir/out.json" || code=$?
  t1=$(date +%s.%N)
  local rss
  rss=$(awk '/Maximum resident set size/ {printf "%.0f", $6 / 1024}' "$dir/time")
  python3 - "$dir/out.json" "$t0" "$t1" "$rss" "$code" "$(stat -c %s "$file")" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
t = float(sys.argv[3]) - float(sys.argv[2])
mb = int(sys.argv[6]) / 1e6
stmts = sum(f["statements"] for f in r["files"])
rules = sorted({x["rule"] for f in r["files"] for x in f["findings"] if x["severity"] == "error"})
print(f"| {mb:.1f} MB | {stmts} | {t:.2f} s | {t / mb:.3f} s/MB | {sys.argv[4]} MB | {int(sys.argv[4]) / mb:.1f}x | exit {sys.argv[5]}, {r['summary']['errors']} errors ({', '.join(rules[:3])}), risk {r['risk']['level']} |")
PY
}

echo "bytegate: $($bin --version); $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| file | statements | wall | per MB | peak RSS | RSS / file | result |"
echo "|---|---|---|---|---|---|---|"
largest=
for mb in "${sizes[@]}"; do
  f="$dir/mixed_${mb}.sql"
  gen mixed $((mb * 1000000)) "$f"
  run "$f" --max-file-bytes 1000000000
  largest=$f
done
echo
echo "default cap (5 MiB) on the largest file:"
echo
run "$largest"
echo
echo "one table, raised cap:"
echo
for mode in columns indexes renames fks; do
  for n in 1 4; do
    f="$dir/${mode}_${n}.sql"
    # ~200k statements at 1x.
    gen "$mode" $((n * 200000 * 40)) "$f"
    echo -n "$mode ${n}x "
    run "$f" --max-file-bytes 1000000000
  done
done
