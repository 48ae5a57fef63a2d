#!/bin/bash
# The README's CLI section shows `avp --help` and `avp run --help` as they
# are: regenerate it with `tests/cli/readme-help.sh --write` after changing
# an option, and this check fails until then.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source tests/lib/check.sh

avp=${AVP:-build/avp}
want=$(mktemp)
trap 'rm -f "$want" "$want.readme"' EXIT
{ "$avp" --help; echo; "$avp" run --help; } >"$want"
# The block between "## CLI" and the next heading's first ``` pair.
out=$(python3 - README.md "$want" "${1:-}" <<'PY'
import sys
readme, want, mode = sys.argv[1], open(sys.argv[2]).read(), sys.argv[3]
text = open(readme).read()
start = text.index("## CLI\n")
a = text.index("```\n", start) + 4
b = text.index("```\n", a)
if mode == "--write":
    open(readme, "w").write(text[:a] + want + text[b:])
    print("README.md: CLI section rewritten")
    sys.exit(0)
if text[a:b] == want:
    print("README's CLI section is avp --help and avp run --help, as they are")
else:
    import difflib
    diff = list(difflib.unified_diff(text[a:b].splitlines(), want.splitlines(), "README", "--help", lineterm="", n=0))
    print("README's CLI section differs from --help (tests/cli/readme-help.sh --write): " + " | ".join(diff[2:8]))
    sys.exit(1)
PY
)
if [ $? -eq 0 ]; then ok "$out"; else notok "$out"; fi
finish
