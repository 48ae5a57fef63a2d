#!/bin/bash
# make install / make uninstall, and what they install (issue 13 item 15):
#  - `make install DESTDIR=... PREFIX=/usr` puts exactly the expected files
#    there with the expected modes, and `make uninstall` removes them all;
#  - the installed avp prints "avp VERSION (git COMMIT)", and a build
#    outside a git checkout "avp VERSION";
#  - every man page renders without warnings, avp-run(1) documents exactly
#    the options of `avp run --help`, avp(1) every command of `avp --help`;
#  - the bash completion offers exactly those commands and options;
#  - the systemd unit runs the installed binary (systemd-analyze verify
#    where systemd is installed).
# Runs on any host; needs build/avp (make) and groff.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
source tests/lib/check.sh

work=$(mktemp -d /tmp/avp-install.XXXXXX)
trap 'rm -rf "$work"' EXIT
dest=$work/dest
version=$(cat VERSION)

if [[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
	ok "VERSION holds a release number ($version)"
else
	notok "VERSION holds '$version', not MAJOR.MINOR.PATCH"
fi

if ! make -s install DESTDIR="$dest" PREFIX=/usr >"$work/install.log" 2>&1; then
	notok "make install DESTDIR=... PREFIX=/usr failed: $(tail -n 5 "$work/install.log")"
	finish
	exit 1
fi
ok "make install DESTDIR=... PREFIX=/usr"

expected=(
	/usr/bin/avp
	/usr/lib/systemd/system/avp-system@.service
	/usr/share/bash-completion/completions/avp
)
for p in docs/man/*.1; do expected+=("/usr/share/man/man1/$(basename "$p")"); done
for c in create start state kill delete list spec; do expected+=("/usr/share/man/man1/avp-$c.1"); done
# The container init and kernel, where scripts/mkoci-init built them.
oci_built=0
if [ -f build/oci-init/base.cpio ] && [ -f build/oci-init/vmlinuz ]; then
	oci_built=1
	expected+=(/usr/share/avp/oci/base.cpio /usr/share/avp/oci/vmlinuz)
fi
printf '%s\n' "${expected[@]}" | sort >"$work/expected"
(cd "$dest" && find . -type f -printf '/%P\n' | sort) >"$work/installed"
if diff -u "$work/expected" "$work/installed" >"$work/files.diff"; then
	ok "installed files: $(wc -l <"$work/installed") ($(tr '\n' ' ' <"$work/installed"))"
else
	notok "installed files differ from the expected ones: $(tr '\n' ' ' <"$work/files.diff")"
fi
modes_ok=1
while read -r f; do
	want=644
	[ "$f" = /usr/bin/avp ] && want=755
	m=$(stat -c %a "$dest$f")
	[ "$m" = "$want" ] || { notok "$f has mode $m, expected $want"; modes_ok=0; }
done <"$work/installed"
[ $modes_ok = 1 ] && ok "modes: 0755 for the binary, 0644 for the rest"

# --- the version ---
got=$("$dest/usr/bin/avp" --version 2>&1)
if [ -e .git ] && command -v git >/dev/null; then
	# The commit build/avp was built from (make install builds nothing).
	if [[ $got =~ ^avp\ ${version//./\\.}\ \(git\ ([0-9a-f]{7,})(-dirty)?\)$ ]] &&
		git cat-file -e "${BASH_REMATCH[1]}^{commit}" 2>/dev/null; then
		ok "installed avp --version: '$got' (the release number and a commit of this checkout)"
	else
		notok "installed avp --version: '$got', expected 'avp $version (git COMMIT[-dirty])'"
	fi
else
	check_eq "$got" "avp $version" "installed avp --version outside a git checkout"
fi
if [ $oci_built = 1 ]; then
	if cmp -s build/oci-init/base.cpio "$dest/usr/share/avp/oci/base.cpio" &&
		cmp -s build/oci-init/vmlinuz "$dest/usr/share/avp/oci/vmlinuz"; then
		ok "the container init and kernel are installed where the installed avp looks (BINDIR/../share/avp/oci)"
	else
		notok "the installed container init or kernel differs from build/oci-init/"
	fi
else
	skip "the container init: build/oci-init not built (scripts/mkoci-init)"
fi
if cmp -s build/avp "$dest/usr/bin/avp"; then
	ok "the installed binary is build/avp"
else
	notok "the installed binary differs from build/avp"
fi
# A source tree without .git (a tarball): the version alone.
mkdir "$work/tarball"
cp Makefile VERSION "$work/tarball/"
if make -s -C "$work/tarball" build/gen/avp_version.h >/dev/null 2>&1; then
	check_grep "$work/tarball/build/gen/avp_version.h" "^#define AVP_VERSION \"$version\"$" \
		"built outside a git checkout: AVP_VERSION is '$version', no commit"
else
	notok "make build/gen/avp_version.h failed in a tree without .git"
fi

# --- man pages ---
man1=$dest/usr/share/man/man1
for p in docs/man/*.1; do
	f=$man1/$(basename "$p")
	if ! command -v groff >/dev/null; then
		skip "$(basename "$p"): no groff (apt-get install groff-base)"
		continue
	fi
	if groff -man -ww -z -Tutf8 "$f" >"$work/groff.err" 2>&1 && [ ! -s "$work/groff.err" ]; then
		ok "$(basename "$p") renders without warnings (groff -ww)"
	else
		notok "$(basename "$p"): groff warns: $(head -n 3 "$work/groff.err" | tr '\n' ' ')"
	fi
	if command -v man >/dev/null; then
		if LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l -E UTF-8 "$f" 2>"$work/man.err" >/dev/null &&
			[ ! -s "$work/man.err" ]; then
			ok "$(basename "$p"): man --warnings -l is silent"
		else
			notok "$(basename "$p"): man warns: $(head -n 3 "$work/man.err" | tr '\n' ' ')"
		fi
	fi
	if grep -q '@VERSION@' "$f" || ! grep -q "^\.TH .*\"avp $version\"" "$f"; then
		notok "$(basename "$p"): the installed page does not carry the version $version"
	fi
done
if command -v man >/dev/null; then
	if grep -q '^AVP-RUNTIME(1)' < <(MANPATH=$dest/usr/share/man MANWIDTH=80 man avp-kill 2>/dev/null); then
		ok "man avp-kill opens avp-runtime(1)"
	else
		notok "man avp-kill does not open avp-runtime(1)"
	fi
else
	skip "no man (apt-get install man-db): the avp-kill link is not checked"
fi

# The options a man page documents: those in the tags of its .TP items.
tagged_options() {
	awk 'tp { print; tp = 0 } /^\.TP/ { tp = 1 }' "$1" | sed 's/\\-/-/g' |
		grep -oE -- '--[a-z][a-z0-9-]*' | sort -u
}
help_run=$(build/avp run --help)
grep -E '^  -' <<<"$help_run" | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u >"$work/run-help-options"
tagged_options docs/man/avp-run.1 | grep -vx -- --help >"$work/run-man-options"
if diff "$work/run-help-options" "$work/run-man-options" >"$work/run.diff"; then
	ok "avp-run(1) documents exactly the $(wc -l <"$work/run-help-options") options of avp run --help"
else
	notok "avp-run(1) and avp run --help differ (< help only, > man only): $(grep '^[<>]' "$work/run.diff" | tr '\n' ' ')"
fi
# The commands of `avp --help`: the words before the description, in the
# "commands:" section.
build/avp --help | awk '/^commands:/ { on = 1; next } /^$/ { on = 0 } on && /^  [a-z]/' |
	sed -E 's/^  //; s/ {2,}.*//; s/ [a-z]+ [a-z].*//' | tr ',' '\n' | tr -d ' ' | grep . | sort -u \
	>"$work/help-commands"
if [ "$(wc -l <"$work/help-commands")" -lt 5 ]; then
	notok "could not read the commands of avp --help (got: $(tr '\n' ' ' <"$work/help-commands"))"
fi
awk 'tp { print; tp = 0 } /^\.TP/ { tp = 1 }' docs/man/avp.1 | sed -nE 's/^\.BR? //p' |
	tr -d '",' | tr ' ' '\n' | grep -E '^[a-z]+$' | sort -u >"$work/man-commands"
if diff "$work/help-commands" "$work/man-commands" >"$work/cmd.diff"; then
	ok "avp(1) lists exactly the $(wc -l <"$work/help-commands") commands of avp --help"
else
	notok "avp(1) and avp --help differ in commands (< help only, > man only): $(grep '^[<>]' "$work/cmd.diff" | tr '\n' ' ')"
fi
missing=""
while read -r c; do [ -f "$man1/avp-$c.1" ] || missing+=" $c"; done <"$work/help-commands"
if [ -z "$missing" ]; then ok "every command has a man page (avp-COMMAND(1))"; else notok "no man page for:$missing"; fi

# --- bash completion ---
# complete WORD...: what the installed completion offers for the last word.
complete_words() {
	bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _avp; printf "%s\n" "${COMPREPLY[@]}"' \
		complete "$dest/usr/share/bash-completion/completions/avp" "$@" | grep . | sort -u
}
complete_words build/avp "" >"$work/comp-commands"
if diff "$work/help-commands" "$work/comp-commands" >"$work/comp.diff"; then
	ok "completion offers exactly the commands of avp --help"
else
	notok "completion and avp --help differ in commands: $(grep '^[<>]' "$work/comp.diff" | tr '\n' ' ')"
fi
complete_words build/avp run --kernel bz -- >"$work/comp-run"
if diff "$work/run-help-options" "$work/comp-run" >"$work/comp-run.diff"; then
	ok "completion offers exactly the options of avp run --help"
else
	notok "completion and avp run --help differ in options: $(grep '^[<>]' "$work/comp-run.diff" | tr '\n' ' ')"
fi
check_eq "$(complete_words build/avp run --seccomp "" | tr '\n' ' ')" "kill log off " \
	"completion of --seccomp's values"
check_eq "$(complete_words build/avp kill vm1 "" | tr '\n' ' ')" "KILL TERM " \
	"completion of avp kill's signal"
# The runtime commands' options, against `avp create --help`.
rt_help=$(build/avp create --help)
for pair in "kill --wait" "delete --force" "list --json" "start --root"; do
	read -r cmd opt <<<"$pair"
	if ! grep -qe "$opt" <<<"$rt_help"; then
		notok "avp create --help no longer mentions $opt (update the completion and this test)"
	elif complete_words build/avp "$cmd" -- | grep -qx -- "$opt"; then
		ok "completion offers $opt for avp $cmd"
	else
		notok "completion does not offer $opt for avp $cmd"
	fi
done

# --- the systemd unit ---
unit=$dest/usr/lib/systemd/system/avp-system@.service
check_grep "$unit" '^ExecStart=/usr/bin/avp system up /etc/avp/%i\.json$' "unit: ExecStart brings up /etc/avp/NAME.json with the installed avp"
check_grep "$unit" '^ExecStop=/usr/bin/avp system down /etc/avp/%i\.json$' "unit: ExecStop brings it down"
if command -v systemd-analyze >/dev/null; then
	# Installed under a real prefix, so the binary and man page it names exist.
	make -s install PREFIX="$work/prefix" >/dev/null 2>&1
	cp "$work/prefix/lib/systemd/system/avp-system@.service" "$work/avp-system@test.service"
	if MANPATH=$work/prefix/share/man systemd-analyze verify "$work/avp-system@test.service" \
		>"$work/verify.log" 2>&1; then
		ok "systemd-analyze verify accepts the unit"
	else
		notok "systemd-analyze verify: $(head -n 3 "$work/verify.log" | tr '\n' ' ')"
	fi
	make -s uninstall PREFIX="$work/prefix" >/dev/null 2>&1
else
	skip "no systemd-analyze: the unit is not verified"
fi

# --- uninstall ---
if make -s uninstall DESTDIR="$dest" PREFIX=/usr >"$work/uninstall.log" 2>&1; then
	left=$(cd "$dest" && find . -type f -printf '/%P ')
	check_eq "$left" "" "make uninstall removes every installed file"
else
	notok "make uninstall failed: $(tail -n 3 "$work/uninstall.log")"
fi
# The default prefix.
make -n install DESTDIR=/nonexistent >"$work/dry-run" 2>&1
if grep -q '/nonexistent/usr/local/bin/avp' "$work/dry-run"; then
	ok "PREFIX defaults to /usr/local"
else
	notok "make -n install does not install to DESTDIR/usr/local/bin/avp by default"
fi
finish
