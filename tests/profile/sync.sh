#!/usr/bin/env bash
# docs/profile.md (the project's own words) must carry the same
# requirement IDs, at the same levels and in the same order, as the profile
# the project was given (../shared/avp-profile.md beside the repository,
# or $AVP_SHARED_PROFILE), read with the conformance report's own parser.
# Where that file is absent (a clone elsewhere) the check is skipped.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source tests/lib/check.sh

ours=docs/profile.md
given=${AVP_SHARED_PROFILE:-../shared/avp-profile.md}
report=conformance/report.py

compare() { # compare OURS GIVEN: prints the differences, exits 1 if any
	python3 - "$report" "$1" "$2" <<'PY'
import importlib.util, sys
spec = importlib.util.spec_from_file_location("report", sys.argv[1])
report = importlib.util.module_from_spec(spec)
spec.loader.exec_module(report)
ours, given = report.parse_profile(sys.argv[2]), report.parse_profile(sys.argv[3])
if not ours:
    print("no IDs found in", sys.argv[2]); sys.exit(1)
if ours == given:
    print(f"{len(ours)} IDs, levels and order equal"); sys.exit(0)
go, gg = dict(ours), dict(given)
for i in sorted(set(gg) - set(go)): print(f"missing here: {i} {gg[i]}")
for i in sorted(set(go) - set(gg)): print(f"not in the given profile: {i} {go[i]}")
for i in sorted(set(go) & set(gg)):
    if go[i] != gg[i]: print(f"{i}: {go[i]} here, {gg[i]} in the given profile")
if set(go) == set(gg) and all(go[i] == gg[i] for i in go): print("same IDs and levels, another order")
sys.exit(1)
PY
}

if [ ! -f "$report" ]; then
	notok "profile sync: the conformance report parser ($report) is missing"
elif [ ! -f "$given" ]; then
	skip "profile sync: no $given here (a clone outside the project's workspace); nothing to compare with"
else
	if out=$(compare "$ours" "$given"); then
		ok "profile sync: $ours and $given: $out"
	else
		notok "profile sync: $ours differs from $given: $(tr '\n' ';' <<<"$out")"
	fi
	# The check itself must be able to fail: a level changed, an ID dropped.
	tmp=$(mktemp -d)
	sed '0,/AVP-BLK-2 MUST/s//AVP-BLK-2 SHOULD/' "$ours" >"$tmp/level.md"
	grep -v 'AVP-RNG-1' "$ours" >"$tmp/dropped.md"
	for bad in level dropped; do
		if compare "$tmp/$bad.md" "$given" >/dev/null; then
			notok "profile sync self-test: a $bad change went unnoticed"
		else
			ok "profile sync self-test: a $bad change is caught"
		fi
	done
	rm -rf "$tmp"
fi
finish
