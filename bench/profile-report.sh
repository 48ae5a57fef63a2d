#!/bin/bash
# Turns the samples scripts/bench --profile took in the test host
# (bench/suite.sh's profile_io: OUT/perf-VMM.data over a whole run, and
# OUT/jobs-VMM.txt, when each guest job began) into one text per job,
# OUT/profile-VMM-JOB.txt, and removes the samples. Runs outside the test
# host: its binaries are this machine's files at the same paths, and its
# kernel's symbols are in OUT/kallsyms.
#   bench/profile-report.sh OUT
set -uo pipefail
out=${1:?usage: bench/profile-report.sh OUT}
command -v perf >/dev/null || { echo "profile-report: no perf (scripts/setup installs linux-perf)" >&2; exit 1; }
ks=()
[ -s "$out/kallsyms" ] && ks=(--kallsyms "$out/kallsyms")
n=0
summary=$out/profile-summary.md
{
	echo "Where the test host's CPUs were during each job, % of all samples (bench/profile-summary.py says what each column holds):"
	echo
	echo "| job | VMM | samples | guest | KVM | VMM user | VMM kernel | peer | idle | other |"
	echo "|---|---|---|---|---|---|---|---|---|---|"
} >"$summary"
rows=$(mktemp)
for data in "$out"/perf-*.data; do
	[ -f "$data" ] || continue
	vmm=${data##*/perf-}
	vmm=${vmm%.data}
	jobs=$out/jobs-$vmm.txt
	[ -s "$jobs" ] || { echo "profile-report: $vmm: no $jobs" >&2; continue; }
	# "NAME START" lines, then "done END": a job lasts until the next line.
	while read -r name start next; do
		# one report by program and object serves both the text (rows of
		# 1 % and more) and the summary (every row)
		perf report -i "$data" "${ks[@]}" --time "$start,$next" --no-inline --stdio --no-children \
			-g none --sort comm,dso --percent-limit 0 2>/dev/null >"$rows.job"
		{
			echo "# $vmm, job $name: perf record -a -g -e cpu-clock -F 199 in the test host, $start-$next s"
			echo "## by program, thread and object (the guest runs in its VMM's vCPU threads, in kvm_amd)"
			grep -v -e '^$' -e '^# *$' -e '^# (Tip' "$rows.job" | awk '!/^ *[0-9.]+%/ || $1 + 0 >= 1'
			echo "## by function, with the callers of those above 4 %"
			perf report -i "$data" "${ks[@]}" --time "$start,$next" --no-inline --stdio --no-children \
				-g caller,4,callee --sort comm,sym --percent-limit 1.5 2>/dev/null |
				grep -v -e '^$' -e '^# *$' -e '^# (Tip'
		} >"$out/profile-$vmm-$name.txt"
		python3 bench/profile-summary.py "$vmm" "$name" <"$rows.job" >>"$rows"
		n=$((n + 1))
	done < <(awk 'prev != "" { print prev, start, $2 } $1 != "done" { prev = $1; start = $2 }' "$jobs")
	rm -f "$data"
done
# the two VMMs' rows of a job side by side (a stable sort by job name)
sort -s -t'|' -k2,2 "$rows" >>"$summary"
rm -f "$rows" "$rows.job"
echo "profile-report: $n profiles in $out/profile-*.txt, the summary in $summary"
