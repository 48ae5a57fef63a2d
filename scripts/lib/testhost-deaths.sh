# testhost_surviving WHAT CMD...: runs CMD, one whole scripts/testhost run
# that checks nothing itself (the benchmarks), and runs it again, whole,
# when the nested test host died under it (status 125: its kernel panicked
# or reset, or it never printed its exit marker; docs/triple-fault.md), at
# most AVP_TESTHOST_DEATHS times (default 3). Each death is said on the
# line scripts/test counts. Returns the last run's status. Test runners
# with checks use scripts/testhost-suite instead, which also knows which
# test was interrupted and never reruns after a failed check.
testhost_surviving() {
	local what=$1 max=${AVP_TESTHOST_DEATHS:-3} deaths rc
	shift
	[[ "$max" =~ ^[0-9]+$ ]] || { echo "testhost_surviving: AVP_TESTHOST_DEATHS must be a number, got '$max'" >&2; return 2; }
	for ((deaths = 0; ; deaths++)); do
		"$@"
		rc=$?
		((rc == 125 && deaths < max)) || return "$rc"
		echo "testhost-suite: the test host died during $what (scripts/testhost status 125, not a verdict on it;" \
			"its console log is named above; death $((deaths + 1)) of at most $max): $what runs again, whole, in a fresh test host"
	done
}
