#!/bin/bash
# Turns the samples scripts/bench --profile took in the test host
# (OUT/perf-VMM-JOB.data, bench/suite.sh's profile_io) into text beside
# them, OUT/profile-VMM-JOB.txt, and removes the samples. Runs outside the
# test host: its binaries are this machine's files at the same paths, and
# its kernel's symbols are in OUT/kallsyms.
#   bench/profile-report.sh OUT
set -uo pipefail
out=${1:?usage: bench/profile-report.sh OUT}
command -v perf >/dev/null || { echo "profile-report: no perf (scripts/setup installs linux-perf)" >&2; exit 1; }
n=0
for f in "$out"/perf-*.data; do
	[ -f "$f" ] || continue
	name=${f##*/perf-}
	name=${name%.data}
	ks=()
	[ -s "$out/kallsyms" ] && ks=(--kallsyms "$out/kallsyms")
	{
		echo "# $name: perf record -a -g -e cpu-clock -F 199 in the test host over the job"
		echo "## by program, thread and object (the guest runs in its VMM's vCPU threads, in kvm_amd)"
		perf report -i "$f" "${ks[@]}" --no-inline --stdio --no-children -g none \
			--sort comm,dso --percent-limit 1 2>/dev/null | grep -v -e '^$' -e '^# *$'
		echo "## by function, with the callers of those above 4 %"
		perf report -i "$f" "${ks[@]}" --no-inline --stdio --no-children -g caller,4,callee \
			--sort comm,sym --percent-limit 1.5 2>/dev/null | grep -v -e '^$' -e '^# *$'
	} >"$out/profile-$name.txt"
	rm -f "$f"
	n=$((n + 1))
done
echo "profile-report: $n profiles in $out/profile-*.txt"
