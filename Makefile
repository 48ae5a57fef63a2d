# avp build. `make` builds build/avp; `make check` runs the unit tests;
# `make check SAN=1` does the same with ASan+UBSan in build/san/.
# Sources are found by wildcard so that each device or layer is one file
# that nobody has to list anywhere else.

CC ?= cc
SAN ?= 0
# ARCH=arm64 cross-builds build/arm64/avp with Debian's gcc-aarch64-linux-gnu
# and the :arm64 libraries scripts/setup installs (docs/arm64.md); `make
# ARCH=arm64 check` runs the unit tests under qemu-aarch64. Without ARCH
# the build is native (x86_64).
ARCH ?= $(if $(filter aarch64,$(shell uname -m)),arm64,x86)
ifeq ($(filter x86 arm64,$(ARCH)),)
$(error ARCH=$(ARCH): give x86 or arm64)
endif
NATIVE_ARCH := $(if $(filter aarch64,$(shell uname -m)),arm64,x86)
CROSS := $(if $(filter-out $(NATIVE_ARCH),$(ARCH)),1,)
ifeq ($(CROSS),1)
ifeq ($(ARCH),arm64)
CC := aarch64-linux-gnu-gcc
AR := aarch64-linux-gnu-ar
BUILD ?= build/arm64
# libfdt-dev cannot be co-installed for arm64: scripts/setup unpacks it here.
ARM64_SYSROOT ?= build/cache/arm64-sysroot/current
PKG_CONFIG := PKG_CONFIG_LIBDIR=/usr/lib/aarch64-linux-gnu/pkgconfig pkg-config
# qemu-aarch64 user emulation, with the multiarch libc6:arm64 (scripts/setup)
# as the guest's C library: under `-L /usr/aarch64-linux-gnu` (the cross
# toolchain's copy) Debian 12's qemu 7.2 hangs in every pthread_create.
TEST_RUNNER ?= qemu-aarch64-static
ifeq ($(SAN),1)
$(error SAN=1 with ARCH=arm64: the sanitizers do not run under qemu-aarch64 user emulation)
endif
endif
endif
# What the cross build needs that only scripts/setup provides (a clean
# clone has none of it): named before anything compiles, instead of a
# linker error about libfdt.a at the end. Deferred (=) so that only a goal
# that builds pays for the look.
CROSS_DEPS_MISSING = $(strip \
	$(if $(shell command -v $(CC) 2>/dev/null),,$(CC)) \
	$(if $(wildcard $(ARM64_SYSROOT)/usr/lib/aarch64-linux-gnu/libfdt.a),,libfdt.a in $(ARM64_SYSROOT)/) \
	$(foreach p,$(PKGS),$(if $(shell $(PKG_CONFIG) --exists $(p) 2>/dev/null && echo y),,$(p):arm64)))
CROSS_CHECK_MISSING = $(strip \
	$(if $(wildcard /usr/lib/aarch64-linux-gnu/libcmocka.so),,libcmocka-dev:arm64) \
	$(if $(shell command -v $(firstword $(TEST_RUNNER)) 2>/dev/null),,$(firstword $(TEST_RUNNER))))
PKG_CONFIG ?= pkg-config
BUILD ?= $(if $(filter 1,$(SAN)),build/san,build)
TEST_RUNNER ?=

# zlib: screenshots' PNGs (through libpng) and the arm64 Image.gz loader.
PKGS := libseccomp json-c libpng liburing zlib
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
ifeq ($(CROSS),1)
# Statically linked, so that an arm64 machine (the test host's root file
# system) needs nothing beyond the C library to run build/arm64/avp.
PKG_LIBS := -Wl,-Bstatic $(shell $(PKG_CONFIG) --libs --static $(PKGS) 2>/dev/null) -Wl,-Bdynamic
PKG_CFLAGS += -I$(ARM64_SYSROOT)/usr/include
LDFLAGS += -L$(ARM64_SYSROOT)/usr/lib/aarch64-linux-gnu
FDT_LIB := -l:libfdt.a
else
PKG_LIBS := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
FDT_LIB := -lfdt
endif

CFLAGS ?= -O2 -g
CFLAGS += -std=c17 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow \
	-Wstrict-prototypes -Wmissing-prototypes -Wvla -fno-strict-aliasing \
	-Iinclude -Isrc -Itests/unit -I$(BUILD)/gen -MMD -MP $(PKG_CFLAGS)
# Test builds with a deliberately broken device, for the conformance
# suite's self-test (conformance/selftest.sh): `make faulty` builds
# build/fault-flush/avp, whose FLUSH returns success without syncing. Each
# fault gets its own BUILD so that no object of the real avp carries one.
FAULTS ?=
ifneq ($(FAULTS),)
ifeq ($(BUILD),build)
$(error FAULTS=$(FAULTS) needs a build directory of its own (BUILD=build/fault-...))
endif
CFLAGS += $(foreach f,$(FAULTS),-DAVP_FAULT_$(f)) -DAVP_FAULTS='"$(FAULTS)"'
endif
ifeq ($(SAN),1)
CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
endif
# libfdt has no pkg-config file in Debian: the arm64 device tree (src/arch/arm64/fdt.c).
LDLIBS += $(PKG_LIBS) $(FDT_LIB) -lpthread -lm
# build/avp is linked statically by default (STATIC=1): 1.3-1.9 MiB less
# resident memory outside guest RAM than the dynamic build, no shared
# library's pages, loader or relocations (issue 16's 2 MiB goal,
# docs/footprint.md). Only the avp link changes: the objects, the unit
# tests and the fuzzers are the same either way. `make STATIC=0
# BUILD=build/dynamic` links it against the shared libraries (a
# distribution that wants its library updates to reach avp without a
# rebuild). The sanitizers cannot run in a static program, and the arm64
# cross build keeps its own linkage (only glibc shared), so both default
# to STATIC=0.
STATIC ?= $(if $(filter 1,$(SAN))$(CROSS),0,1)
ifeq ($(STATIC),1)
ifeq ($(SAN),1)
$(error STATIC=1 with SAN=1: ASan and UBSan need a dynamic program; give STATIC=0)
endif
ifeq ($(CROSS),1)
$(error STATIC=1 with ARCH=$(ARCH): the cross build links only glibc dynamically; leave STATIC out)
endif
AVP_LDFLAGS := -static-pie
AVP_LDLIBS := $(shell $(PKG_CONFIG) --static --libs $(PKGS) 2>/dev/null) $(FDT_LIB) -lpthread -lm
else
ifeq ($(STATIC)$(BUILD)$(SAN)$(CROSS),0build0)
$(error STATIC=0 needs a build directory of its own (BUILD=build/dynamic): build/avp is the static one)
endif
AVP_LDFLAGS :=
AVP_LDLIBS = $(LDLIBS)
endif

# Each architecture's platform (the avp/arch.h implementation) builds only
# for it. arm64's device tree, Image parser and Image.gz inflater are pure
# and build on x86 as well (unit-tested and fuzzed there); its KVM side
# needs arm64's <asm/kvm.h>.
# The PC's legacy devices exist only on x86.
X86_ONLY_SRCS := $(wildcard src/arch/x86/*.c) src/hw/serial_16550.c src/hw/i8042.c src/hw/rtc_cmos.c
ARM64_ONLY_SRCS := $(filter-out src/arch/arm64/image.c src/arch/arm64/fdt.c src/arch/arm64/gunzip.c,\
	$(wildcard src/arch/arm64/*.c))
ARCH_EXCLUDED_SRCS := $(if $(filter arm64,$(ARCH)),$(X86_ONLY_SRCS),$(ARM64_ONLY_SRCS))
# Their unit tests, and those that expect x86's platform (its interrupts,
# its legacy devices, ACPI) from the generic code.
X86_ONLY_TESTS := test_acpi test_acpi_wdat test_aml test_bzimage test_i8042 test_rtc \
	test_serial test_x86_boot test_x86_layout test_power_button test_platform_power test_acpi_pci \
	test_virtio_pci test_mptable
# What qemu-aarch64 user emulation cannot run (README, Tests): seccomp
# filters (they would judge qemu's own system calls, the host's), and tests
# that start avp or its runtime monitor as a new process (the host kernel
# cannot exec an arm64 binary without a binfmt_misc entry for qemu).
ARM64_EMULATION_SKIPPED_TESTS := test_seccomp test_chardev_seccomp test_disk_seccomp \
	test_tap_seccomp test_vsock_seccomp test_wav_seccomp test_can_seccomp test_i2c_seccomp \
	test_bundle test_describe_schema test_runtime_attach test_runtime_start test_oci \
	test_stalled_output \
	test_disk_uring test_virtio_blk
# (The last two: qemu-aarch64 7.2 has no io_uring system calls and refuses
# the disk's O_DIRECT descriptor, which both tests exercise.)
# The arm64 platform's own test needs its KVM side (arm64's <asm/kvm.h>).
ARM64_ONLY_TESTS := test_arm64_platform
ARCH_EXCLUDED_TESTS := $(if $(filter arm64,$(ARCH)),$(X86_ONLY_TESTS) \
	$(if $(CROSS),$(ARM64_EMULATION_SKIPPED_TESTS)),$(ARM64_ONLY_TESTS))

LIB_SRCS := $(filter-out src/cli/main.c $(ARCH_EXCLUDED_SRCS),$(wildcard src/*/*.c src/*/*/*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
TEST_SRCS := $(filter-out $(ARCH_EXCLUDED_TESTS:%=tests/unit/%.c),$(wildcard tests/unit/test_*.c))
TEST_BINS := $(TEST_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
TEST_SUPPORT_SRCS := $(wildcard tests/unit/support/*.c)
TEST_SUPPORT_OBJS := $(TEST_SUPPORT_SRCS:%.c=$(BUILD)/obj/%.o)

# The release number lives in one place, the VERSION file; the commit is
# added only where the source is a git checkout of its own (a tarball
# unpacked inside another repository must not take that one's commit).
# `make VERSION_NUMBER=... GIT_COMMIT=...` overrides either.
VERSION_NUMBER := $(shell cat VERSION 2>/dev/null || echo unknown)
GIT_COMMIT := $(if $(wildcard .git),$(shell git describe --always --dirty --exclude='*' 2>/dev/null))
VERSION := $(VERSION_NUMBER)$(if $(GIT_COMMIT), (git $(GIT_COMMIT)))
# AVP_VERSION is what --version prints after "avp"; the parts on their own
# are for whoever needs one of them (e.g. --describe).
VERSION_HEADER = printf '\#define AVP_VERSION "%s"\n\#define AVP_VERSION_NUMBER "%s"\n\#define AVP_COMMIT "%s"\n' \
	'$(VERSION)' '$(VERSION_NUMBER)' '$(GIT_COMMIT)'

.PHONY: all check clean fuzz faulty datapath FORCE
all: $(BUILD)/avp

$(BUILD)/avp: $(BUILD)/obj/src/cli/main.o $(BUILD)/libavp.a $(BUILD)/gen/avp_link
	$(CC) $(LDFLAGS) $(AVP_LDFLAGS) -o $@ $(filter %.o %.a,$^) $(AVP_LDLIBS)

# The link command, rewritten only when it changes: a build/avp linked the
# other way (before static became the default) is relinked.
$(BUILD)/gen/avp_link: FORCE
	@mkdir -p $(@D)
	@echo '$(LDFLAGS) $(AVP_LDFLAGS) $(AVP_LDLIBS)' > $@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@

$(BUILD)/libavp.a: $(LIB_OBJS)
	@mkdir -p $(@D)
	rm -f $@ && $(AR) rcs $@ $^

# The version lives in one generated header, rewritten only when it
# changes, so a commit does not rebuild every object.
$(BUILD)/gen/avp_version.h: FORCE
	@mkdir -p $(@D)
	@$(VERSION_HEADER) > $@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@

$(BUILD)/obj/src/cli/main.o $(BUILD)/obj/src/vmm/describe.o $(BUILD)/obj/src/cli/oci_cmds.o: $(BUILD)/gen/avp_version.h

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(TEST_SUPPORT_OBJS) $(BUILD)/libavp.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

# The transport's KVM_IRQFD calls go to the test's fake (it answers as KVM
# does before and after the interrupt controller is initialised).
$(BUILD)/tests/test_arm64_irqfd: LDFLAGS += -Wl,--wrap=vm_irqfd_assign
# The MSI routes' and arm64's ITS ioctls go to the test's fake KVM.
$(BUILD)/tests/test_msi_devid: LDFLAGS += -Wl,--wrap=ioctl

# The cross build's own tools and libraries, before any object (above).
.PHONY: cross-deps cross-check-deps
ifeq ($(CROSS),1)
$(LIB_OBJS) $(BUILD)/obj/src/cli/main.o $(TEST_SRCS:%.c=$(BUILD)/obj/%.o) $(TEST_SUPPORT_OBJS): | cross-deps
$(TEST_SRCS:%.c=$(BUILD)/obj/%.o): | cross-check-deps
endif
cross-deps:
	@m='$(CROSS_DEPS_MISSING)'; [ -z "$$m" ] || { echo "make ARCH=$(ARCH): missing $$m:" \
		"run scripts/setup first (it installs the cross compiler and the $(ARCH) libraries;" \
		"docs/arm64.md)" >&2; exit 1; }
cross-check-deps:
	@m='$(CROSS_CHECK_MISSING)'; [ -z "$$m" ] || { echo "make ARCH=$(ARCH) check: missing $$m:" \
		"run scripts/setup first (docs/arm64.md)" >&2; exit 1; }

# Each test binary is a cmocka group; the runner sums their results.
check: $(BUILD)/avp $(TEST_BINS)
	@TEST_RUNNER='$(TEST_RUNNER)' scripts/run-unit-tests $(BUILD)/tests $(TEST_BINS)

# The device data paths' instructions per request under callgrind
# (bench/datapath.c; bench/datapath.sh runs it).
datapath: $(BUILD)/bench/datapath
$(BUILD)/bench/datapath: $(BUILD)/obj/bench/datapath.o $(BUILD)/obj/tests/unit/support/vq_harness.o $(BUILD)/libavp.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

faulty:
	$(MAKE) BUILD=build/fault-flush FAULTS=FLUSH_NOOP build/fault-flush/avp

clean:
	rm -rf build

# libFuzzer targets, one per fuzz/fuzz_*.c: `make fuzz` builds them into
# build/fuzz/ with clang, coverage and ASan+UBSan, from their own copy of
# the library objects, so the normal build is untouched. scripts/fuzz runs
# them.
FUZZ_CC ?= clang
FUZZ_BUILD := build/fuzz
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
# Host-side limits small enough that a fuzz input reaches them in
# microseconds: the same code, at sizes where ASan's shadow poisoning of big
# allocations (GPU) and the kernel's getrandom (rng) cost little.
FUZZ_LIMITS := -DVIRTIO_GPU_MAX_HOST_BYTES='(8ull << 20)' -DVIRTIO_RNG_MAX_REQUEST='(4u * 1024u)'
# No -Werror: the normal build (gcc) is the one that enforces warnings;
# clang warns about other things, which must not stop the fuzzers.
FUZZ_CFLAGS := -O1 -g -std=c17 -D_GNU_SOURCE -Wall -Wextra -Wshadow \
	-Wstrict-prototypes -Wmissing-prototypes -Wvla -fno-strict-aliasing \
	-Iinclude -Isrc -Ifuzz/support -I$(FUZZ_BUILD)/gen -MMD -MP $(PKG_CFLAGS) \
	$(FUZZ_SAN) -fsanitize=fuzzer-no-link $(FUZZ_LIMITS)
FUZZ_SRCS := $(wildcard fuzz/fuzz_*.c)
FUZZ_BINS := $(FUZZ_SRCS:fuzz/%.c=$(FUZZ_BUILD)/%)
FUZZ_LIB_OBJS := $(LIB_SRCS:%.c=$(FUZZ_BUILD)/obj/%.o)
FUZZ_SUPPORT_OBJS := $(patsubst %.c,$(FUZZ_BUILD)/obj/%.o,$(wildcard fuzz/support/*.c))

fuzz: $(FUZZ_BINS)
# Only a pattern rule names the targets' objects: keep make from deleting
# them as intermediates, so a rebuild relinks instead of recompiling.
.SECONDARY: $(FUZZ_SRCS:%.c=$(FUZZ_BUILD)/obj/%.o) $(FUZZ_SUPPORT_OBJS)

$(FUZZ_BUILD)/gen/avp_version.h: FORCE
	@mkdir -p $(@D)
	@$(VERSION_HEADER) > $@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@

$(FUZZ_BUILD)/obj/src/vmm/describe.o $(FUZZ_BUILD)/obj/src/cli/oci_cmds.o: $(FUZZ_BUILD)/gen/avp_version.h

$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

$(FUZZ_BUILD)/libavp.a: $(FUZZ_LIB_OBJS)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/obj/fuzz/fuzz_%.o $(FUZZ_SUPPORT_OBJS) $(FUZZ_BUILD)/libavp.a
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
ifneq ($(filter fuzz build/fuzz/%,$(MAKECMDGOALS)),)
-include $(shell find $(FUZZ_BUILD)/obj -name '*.d' 2>/dev/null)
endif

# ---- make install / make uninstall -------------------------------------
# PREFIX (default /usr/local) and DESTDIR as usual; each directory can be
# set on its own as well. Installs what `make` built (build/avp), the man
# pages (docs/man/), the bash completion and the systemd unit template
# (dist/), with the version and the binary's path written into them.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
# The container init and default kernel of an OCI image run
# (scripts/mkoci-init, docs/oci.md); the installed avp looks for them in
# BINDIR/../share/avp/oci.
OCIDIR ?= $(PREFIX)/share/avp/oci
OCI_FILES := base.cpio vmlinuz
INSTALL ?= install
MAN_PAGES := $(notdir $(wildcard docs/man/*.1))
# `man avp-kill` and the like open avp-runtime(1).
MAN_RUNTIME_LINKS := $(foreach c,create start state kill delete list spec,avp-$(c).1)
INSTALLED := $(BINDIR)/avp $(addprefix $(MANDIR)/man1/,$(MAN_PAGES) $(MAN_RUNTIME_LINKS)) \
	$(BASHCOMPDIR)/avp $(SYSTEMDUNITDIR)/avp-system@.service $(addprefix $(OCIDIR)/,$(OCI_FILES))

.PHONY: install uninstall
# install builds nothing: under sudo, git may refuse the checkout (another
# user's), and a rebuild there would drop the commit from --version and
# leave root-owned objects behind.
install:
	@test -x build/avp || { echo "make install: no build/avp: run make first" >&2; exit 1; }
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(BASHCOMPDIR) \
		$(DESTDIR)$(SYSTEMDUNITDIR)
	$(INSTALL) -m 0755 build/avp $(DESTDIR)$(BINDIR)/avp
	set -e; for p in $(MAN_PAGES); do \
		sed 's/@VERSION@/$(VERSION_NUMBER)/g' docs/man/$$p > $(DESTDIR)$(MANDIR)/man1/$$p.tmp; \
		chmod 0644 $(DESTDIR)$(MANDIR)/man1/$$p.tmp; \
		mv $(DESTDIR)$(MANDIR)/man1/$$p.tmp $(DESTDIR)$(MANDIR)/man1/$$p; \
	done
	set -e; for p in $(MAN_RUNTIME_LINKS); do \
		echo '.so man1/avp-runtime.1' > $(DESTDIR)$(MANDIR)/man1/$$p; \
		chmod 0644 $(DESTDIR)$(MANDIR)/man1/$$p; \
	done
	$(INSTALL) -m 0644 dist/bash-completion/avp $(DESTDIR)$(BASHCOMPDIR)/avp
	sed 's|@BINDIR@|$(BINDIR)|g' dist/systemd/avp-system@.service.in \
		> $(DESTDIR)$(SYSTEMDUNITDIR)/avp-system@.service.tmp
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/avp-system@.service.tmp
	mv $(DESTDIR)$(SYSTEMDUNITDIR)/avp-system@.service.tmp $(DESTDIR)$(SYSTEMDUNITDIR)/avp-system@.service
	@if [ -f build/oci-init/base.cpio ] && [ -f build/oci-init/vmlinuz ]; then \
		$(INSTALL) -d $(DESTDIR)$(OCIDIR) && \
		$(INSTALL) -m 0644 $(addprefix build/oci-init/,$(OCI_FILES)) $(DESTDIR)$(OCIDIR)/; \
	else \
		echo "make install: no build/oci-init (scripts/mkoci-init builds it): OCI images without a vm object will not run"; \
	fi

# Removes exactly what install put there; directories stay (others share them).
uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))
