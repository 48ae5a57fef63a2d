#!/bin/bash
# Instructions per request of the blk and net device models' data paths
# (bench/datapath.c) under callgrind: repeatable on a noisy machine, avp
# only. Prints "NAME INSTRUCTIONS_PER_REQUEST" lines.
#   bench/datapath.sh [OUTDIR]     (make datapath first)
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=${1:-build/bench/datapath.out}
rm -rf "$out" && mkdir -p "$out"
command -v valgrind >/dev/null || { echo "datapath: valgrind missing (scripts/setup)" >&2; exit 1; }
valgrind --tool=callgrind --collect-atstart=no --callgrind-out-file="$out/cg.%p" \
	build/bench/datapath >"$out/requests.txt" 2>"$out/valgrind.log" ||
	{ cat "$out/valgrind.log" >&2; exit 1; }
# Each dump: "desc: Trigger: Client Request: NAME" and "totals: IR".
for f in "$out"/cg.*; do
	awk '/^desc: Trigger: Client Request: / { n = $NF } /^totals: / { print n, $2 }' "$f"
done | awk 'NR == FNR { req[$2] = $3; next } ($1 in req) { printf "%s %d\n", $1, $2 / req[$1] }' \
	"$out/requests.txt" -
