#!/usr/bin/env python3
"""Results side of conformance/conform.

  report.py extract HV DIR
      Collect the guest's AVP-RESULT/AVP-INVENTORY/AVP-INFO lines from
      DIR/*.serial and the host's records from DIR/host.tsv into
      DIR/results.jsonl (one record per observation).
  report.py describe-check HV DESCRIBE.json SERIAL NCONFIGURED
      AVP-BOOT-4: compare the hypervisor's machine-readable platform
      description with what the guest saw; prints one TSV record.
  report.py table --profile P HV=DIR... [--json F] [--markdown F]
          [--command TEXT]
      Merge the records into one row per profile ID (profile order) and
      print the table; optionally write JSON and Markdown.

Merging: a row is FAIL if any observation for it failed, PASS if at least
one passed and none failed, ABSENT if every observation said "not
offered". ABSENT is only a valid outcome for MAY rows; for MUST/SHOULD it
becomes FAIL ("not offered"). A row nobody observed is FAIL ("no
observation"), so a new profile ID cannot slip through unnoticed.
"""
import datetime
import json
import os
import re
import sys

PREFIXES = ("AVP-RESULT ", "AVP-INVENTORY ", "AVP-INFO ")


def serial_lines(path):
    """Marker lines from a console log. The kernel may print into the same
    serial line, so markers are searched anywhere in a line."""
    out = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.replace("\r", "")
            for p in PREFIXES:
                i = line.find(p)
                if i < 0:
                    continue
                try:
                    out.append((p.strip(), json.loads(line[i + len(p):])))
                except json.JSONDecodeError:
                    out.append(("AVP-BROKEN", {"line": line.strip()}))
    return out


def extract(hv, d):
    recs = []
    for name in sorted(os.listdir(d)):
        if not name.endswith((".serial", ".hvc0")):
            continue
        vm = name.rsplit(".", 1)[0]
        for kind, obj in serial_lines(os.path.join(d, name)):
            if kind == "AVP-RESULT":
                recs.append({"id": obj["id"], "result": obj["result"], "evidence": obj.get("evidence", ""),
                             "source": "guest:" + vm})
    host = os.path.join(d, "host.tsv")
    if os.path.exists(host):
        with open(host, encoding="utf-8") as f:
            for line in f:
                parts = line.rstrip("\n").split("\t", 2)
                if len(parts) == 3:
                    recs.append({"id": parts[0], "result": parts[1], "evidence": parts[2], "source": "host"})
    with open(os.path.join(d, "results.jsonl"), "w", encoding="utf-8") as f:
        for r in recs:
            r["hypervisor"] = hv
            f.write(json.dumps(r) + "\n")
    print(f"conform-report: {len(recs)} observations for {hv} in {d}/results.jsonl")


def tsv(rid, res, ev):
    print(f"{rid}\t{res}\t{' '.join(ev.split())}")


def describe_check(hv, desc_path, serial, nconf):
    nconf = int(nconf)
    inv = [o for p in serial.split(",") if os.path.exists(p)
           for k, o in serial_lines(p) if k == "AVP-INVENTORY"]
    try:
        with open(desc_path, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        tsv("AVP-BOOT-4", "FAIL", f"no machine-readable platform description ({e})")
        return
    devs = doc.get("virtio_devices")
    if not isinstance(devs, list):
        tsv("AVP-BOOT-4", "FAIL", "the description has no virtio_devices list")
        return
    problems, notes = [], []
    if len(devs) != nconf:
        problems.append(f"describes {len(devs)} virtio devices, {nconf} configured")
    if hv == "qemu":
        # QMP reports device names and offered features; look for anything
        # that carries an address or an interrupt number.
        have_feat = all(isinstance(d.get("status"), dict) and "host-features" in d["status"] for d in devs)
        flat = json.dumps(devs)
        have_addr = re.search(r'"(addr|address|base|mmio)[^"]*":', flat) is not None
        have_irq = re.search(r'"(irq|interrupt|gsi)[^"]*":', flat) is not None
        notes.append(f"QMP x-query-virtio lists {len(devs)} devices"
                     f"{', offered features via x-query-virtio-status' if have_feat else ', NO features'}")
        qtree_addrs = re.findall(r"mmio ([0-9a-f]{16})/0000000000000200", doc.get("hmp_info_qtree", ""))
        if not have_addr:
            problems.append(f"no device addresses in QMP (HMP 'info qtree' text shows {len(qtree_addrs)} "
                            "virtio-mmio windows, which is not machine-readable)")
        if not have_irq:
            problems.append("no interrupt numbers anywhere in QMP")
        if not have_feat:
            problems.append("offered features missing")
        if inv:
            notes.append(f"guest sees {len(inv)} devices")
    else:
        need = ("type", "virtio_id", "address", "interrupt", "features")
        for d in devs:
            miss = [k for k in need if k not in d]
            if miss:
                problems.append(f"{d.get('type', '?')} lacks {','.join(miss)}")
        by_addr = {str(d.get("address", "")).lower(): d for d in devs}
        # virtio-pci (avp --transport pci): the guest knows a function by its BDF.
        by_addr.update({str(d["pci_bdf"]).lower(): d for d in devs if d.get("pci_bdf")})
        matched = 0
        for g in inv:
            d = by_addr.get(str(g.get("address", "")).lower())
            if d is None:
                problems.append(f"guest device {g['dev']} (id {g['virtio_id']}) at {g.get('address')} is not described")
                continue
            matched += 1
            if int(d.get("virtio_id", -1)) != int(g["virtio_id"]):
                problems.append(f"{g.get('address')}: described id {d.get('virtio_id')}, guest sees {g['virtio_id']}")
            if g.get("interrupt", -1) >= 0 and int(d.get("interrupt", -2)) != int(g["interrupt"]):
                problems.append(f"{g.get('address')}: described interrupt {d.get('interrupt')}, guest uses {g['interrupt']}")
            offered = int(str(d.get("features", "0")), 0)
            negotiated = int(g.get("features", "0"), 0)
            if negotiated & ~offered:
                problems.append(f"{g.get('address')}: guest negotiated bits {hex(negotiated & ~offered)} not in the described offer")
        if not inv:
            problems.append("no guest inventory to compare the description with")
        elif matched != len(devs):
            problems.append(f"{len(devs) - matched} described devices not seen by the guest")
        notes.append(f"{len(devs)} devices with type/id/address/interrupt/features; "
                     f"{matched}/{len(inv)} guest devices match by address, id, interrupt and features")
    tsv("AVP-BOOT-4", "FAIL" if problems else "PASS", "; ".join(problems + notes))


def parse_profile(path):
    text = open(path, encoding="utf-8").read()
    rows, seen = [], set()
    for m in re.finditer(r"\b(AVP-[A-Z0-9]+-\d+)\s+(MUST|SHOULD|MAY)\b", text):
        if m.group(1) not in seen:
            seen.add(m.group(1))
            rows.append((m.group(1), m.group(2)))
    return rows


def merge(profile, recs):
    by_id = {}
    for r in recs:
        by_id.setdefault(r["id"], []).append(r)
    rows = []
    for rid, level in profile:
        rs = by_id.get(rid, [])
        if not rs:
            result, ev = "FAIL", "no observation in this run"
        else:
            results = [r["result"] for r in rs]
            result = "FAIL" if "FAIL" in results else "PASS" if "PASS" in results else "ABSENT"
            order = {"FAIL": 0, "PASS": 1, "ABSENT": 2}
            ev = " | ".join(f"[{r['source']}] {r['evidence']}" for r in sorted(rs, key=lambda r: order.get(r["result"], 3)))
            if result == "ABSENT" and level != "MAY":
                result, ev = "FAIL", "not offered: " + ev
        rows.append({"id": rid, "level": level, "result": result, "evidence": ev})
    return rows


def summary(rows):
    s = {}
    for lvl in ("MUST", "SHOULD", "MAY"):
        r = [x for x in rows if x["level"] == lvl]
        s[lvl] = {"total": len(r), "passed": sum(x["result"] == "PASS" for x in r),
                  "offered": sum(x["result"] != "ABSENT" for x in r)}
    return s


def summary_text(s):
    return (f"MUST passed {s['MUST']['passed']}/{s['MUST']['total']}, "
            f"SHOULD passed {s['SHOULD']['passed']}/{s['SHOULD']['total']}, "
            f"MAY offered {s['MAY']['offered']}/{s['MAY']['total']} (passed {s['MAY']['passed']})")


def md_cell(t):
    return t.replace("|", "\\|").replace("\n", " ")


def table(argv):
    profile_path, jout, mout, command, sets = None, None, None, "", []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("--profile", "--json", "--markdown", "--command"):
            v = argv[i + 1]
            i += 2
            if a == "--profile":
                profile_path = v
            elif a == "--json":
                jout = v
            elif a == "--markdown":
                mout = v
            else:
                command = v
            continue
        hv, d = a.split("=", 1)
        sets.append((hv, d))
        i += 1
    profile = parse_profile(profile_path)
    if not profile:
        sys.exit(f"conform-report: no requirement IDs found in {profile_path}")
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    out = {"profile": profile_path, "date": date, "command": command, "hypervisors": {}}
    for hv, d in sets:
        recs = []
        p = os.path.join(d, "results.jsonl")
        if os.path.exists(p):
            with open(p, encoding="utf-8") as f:
                recs = [json.loads(x) for x in f if x.strip()]
        meta = {}
        mp = os.path.join(d, "meta.json")
        if os.path.exists(mp):
            with open(mp, encoding="utf-8") as f:
                meta = json.load(f)
        rows = merge(profile, recs)
        out["hypervisors"][hv] = {"rows": rows, "summary": summary(rows), "meta": meta}

    # Plain text to stdout: one block per hypervisor.
    for hv, h in out["hypervisors"].items():
        print(f"== AVP conformance: {hv} ({h['meta'].get('version', '?')})")
        print(f"{'ID':<13} {'level':<6} {'result':<6} evidence")
        for r in h["rows"]:
            ev = r["evidence"]
            print(f"{r['id']:<13} {r['level']:<6} {r['result']:<6} {ev[:160]}{'...' if len(ev) > 160 else ''}")
        print(f"summary {hv}: {summary_text(h['summary'])}")
        for note in h["meta"].get("boot_retries", []):
            print(f"boot retried {hv}: {note}")
        print()

    if jout:
        with open(jout, "w", encoding="utf-8") as f:
            json.dump(out, f, indent=1)
    if mout:
        hvs = list(out["hypervisors"])
        lines = ["# AVP conformance results", "",
                 f"Generated by `conformance/conform` on {date}" + (f" with `{command}`" if command else "") + ".",
                 f"Profile: `{os.path.basename(profile_path)}` ({len(profile)} requirements).", ""]
        for hv in hvs:
            h = out["hypervisors"][hv]
            lines.append(f"- **{hv}** ({h['meta'].get('version', '?')}): {summary_text(h['summary'])}")
            if h["meta"].get("platform"):
                lines.append(f"  - platform: {h['meta']['platform']}")
            for note in h["meta"].get("boot_retries", []):
                lines.append(f"  - guest died in kernel boot, booted again: {note}")
        lines += ["", "| ID | level | " + " | ".join(hvs) + " |", "|---|---|" + "---|" * len(hvs)]
        for k, (rid, level) in enumerate(profile):
            cells = [out["hypervisors"][hv]["rows"][k]["result"] for hv in hvs]
            lines.append(f"| {rid} | {level} | " + " | ".join(cells) + " |")
        for hv in hvs:
            lines += ["", f"## Evidence: {hv}", "", "| ID | level | result | evidence |", "|---|---|---|---|"]
            for r in out["hypervisors"][hv]["rows"]:
                lines.append(f"| {r['id']} | {r['level']} | {r['result']} | {md_cell(r['evidence'])} |")
        with open(mout, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cmd = sys.argv[1]
    if cmd == "extract":
        extract(sys.argv[2], sys.argv[3])
    elif cmd == "describe-check":
        describe_check(*sys.argv[2:6])
    elif cmd == "table":
        table(sys.argv[2:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
