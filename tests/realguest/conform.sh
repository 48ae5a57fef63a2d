#!/bin/bash
# The AVP conformance suite (scripts/conform) run on avp and QEMU, plus its
# honesty self-test: the suite must notice when a device is taken away.
# Needs a real /dev/kvm: tests/realguest/all.sh runs it inside the test host.
#
#   1. full run on avp and QEMU: every profile ID gets exactly one row on
#      both, and the rows each platform is known to implement pass (so a
#      suite that fails everything, or an avp regression, shows up here);
#   2. avp without --rng: AVP-RNG-1 must turn FAIL while AVP-BLK-1 stays
#      PASS (the failure is about the missing device, not a broken run);
#   3. QEMU without its rng and with microvm's default legacy virtio-mmio:
#      AVP-RNG-1 and AVP-TRANS-1 must turn FAIL.
# Not covered: a broken FLUSH (it would need a fault hook in avp's block
# device; the kill-after-flush test itself is part of run 1).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source tests/lib/check.sh

out=build/conform/selftest
mkdir -p "$out"
avp=${AVP_CONFORM_AVP:-build/avp}
for f in "$avp" build/guest/vmlinuz build/guest/initrd.img; do
	[ -e "$f" ] || { notok "$f missing (run make and scripts/mkguest first)"; finish; exit 1; }
done

# row FILE HV ID -> "RESULT"
row() {
	python3 - "$@" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
for r in doc["hypervisors"][sys.argv[2]]["rows"]:
    if r["id"] == sys.argv[3]:
        print(r["result"])
EOF
}

# --- 1. full run ----------------------------------------------------------
t0=$SECONDS
scripts/conform --no-build --avp "$avp" --hypervisor avp,qemu --out "$out/full" \
	--json "$out/full.json" --markdown "$out/full.md" >"$out/full.log" 2>&1
rc=$?
echo "conform-selftest: full run took $((SECONDS - t0)) s"
grep -E '^(summary|conform\[)' "$out/full.log" | sed 's/^/  | /'
check_eq "$rc" 0 "scripts/conform ran on avp and QEMU"
if [ -f "$out/full.json" ]; then
	nprof=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(len(d["hypervisors"]["avp"]["rows"]), len(d["hypervisors"]["qemu"]["rows"]), len(set(r["id"] for r in d["hypervisors"]["avp"]["rows"])))' "$out/full.json")
	read -r na nq nu <<<"$nprof"
	check_eq "$na/$nq/$nu" "$nu/$nu/$nu" "one row per profile ID on both hypervisors ($nu IDs)"
	[ "${nu:-0}" -ge 40 ] && ok "the profile parser found $nu requirement IDs" || notok "only ${nu:-0} IDs parsed from the profile"
	# What each platform is known to offer today; a FAIL here is either a
	# regression of the platform or a broken check.
	for id in AVP-BOOT-1 AVP-BOOT-2 AVP-BOOT-3 AVP-TRANS-1 AVP-TRANS-2 AVP-BLK-1 AVP-BLK-3 AVP-BLK-4 AVP-NET-1 AVP-RNG-1 AVP-CON-1; do
		check_eq "$(row "$out/full.json" avp $id)" PASS "avp: $id passes"
	done
	for id in AVP-BOOT-1 AVP-TRANS-1 AVP-BLK-1 AVP-BLK-2 AVP-BLK-3 AVP-NET-1 AVP-NET-2 AVP-RNG-1 AVP-CON-1 AVP-PM-1 AVP-PART-1; do
		check_eq "$(row "$out/full.json" qemu $id)" PASS "QEMU: $id passes"
	done
	# Neither offers vsock today: a PASS would mean a check that cannot fail.
	check_eq "$(row "$out/full.json" qemu AVP-VSOCK-1)" FAIL "QEMU without vhost-vsock: AVP-VSOCK-1 fails"
else
	notok "no $out/full.json"
fi

# --- 2. avp without virtio-rng ---------------------------------------------
t0=$SECONDS
scripts/conform --no-build --avp "$avp" --hypervisor avp --quick --no-rng --out "$out/norng" \
	--json "$out/norng-avp.json" >"$out/norng-avp.log" 2>&1
echo "conform-selftest: avp without rng took $((SECONDS - t0)) s"
check_eq "$(row "$out/norng-avp.json" avp AVP-RNG-1 2>/dev/null)" FAIL "avp without --rng: AVP-RNG-1 turns FAIL"
check_eq "$(row "$out/norng-avp.json" avp AVP-BLK-1 2>/dev/null)" PASS "avp without --rng: AVP-BLK-1 still passes"

# --- 3. QEMU without rng, legacy virtio-mmio --------------------------------
t0=$SECONDS
scripts/conform --no-build --hypervisor qemu --quick --no-rng --legacy-mmio --out "$out/norng" \
	--json "$out/norng-qemu.json" >"$out/norng-qemu.log" 2>&1
echo "conform-selftest: QEMU without rng, legacy mmio took $((SECONDS - t0)) s"
check_eq "$(row "$out/norng-qemu.json" qemu AVP-RNG-1 2>/dev/null)" FAIL "QEMU without virtio-rng: AVP-RNG-1 turns FAIL"
check_eq "$(row "$out/norng-qemu.json" qemu AVP-TRANS-1 2>/dev/null)" FAIL "QEMU with legacy virtio-mmio: AVP-TRANS-1 turns FAIL"
check_eq "$(row "$out/norng-qemu.json" qemu AVP-BLK-1 2>/dev/null)" PASS "QEMU legacy/no-rng: AVP-BLK-1 still passes"

finish
