# avp build. `make` builds build/avp; `make check` runs the unit tests;
# `make check SAN=1` does the same with ASan+UBSan in build/san/.
# Sources are found by wildcard so that each device or layer is one file
# that nobody has to list anywhere else.

CC ?= cc
SAN ?= 0
BUILD ?= $(if $(filter 1,$(SAN)),build/san,build)

PKGS := libseccomp liburing json-c libpng
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS ?= -O2 -g
CFLAGS += -std=c17 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow \
	-Wstrict-prototypes -Wmissing-prototypes -Wvla -fno-strict-aliasing \
	-Iinclude -Isrc -Itests/unit -I$(BUILD)/gen -MMD -MP $(PKG_CFLAGS)
ifeq ($(SAN),1)
CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
endif
LDLIBS += $(PKG_LIBS) -lpthread -lm

LIB_SRCS := $(filter-out src/cli/main.c,$(wildcard src/*/*.c src/*/*/*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
TEST_SRCS := $(wildcard tests/unit/test_*.c)
TEST_BINS := $(TEST_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
TEST_SUPPORT_SRCS := $(wildcard tests/unit/support/*.c)
TEST_SUPPORT_OBJS := $(TEST_SUPPORT_SRCS:%.c=$(BUILD)/obj/%.o)

VERSION := $(shell git describe --always --dirty 2>/dev/null || echo unknown)

.PHONY: all check clean FORCE
all: $(BUILD)/avp

$(BUILD)/avp: $(BUILD)/obj/src/cli/main.o $(BUILD)/libavp.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/libavp.a: $(LIB_OBJS)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

# The version lives in one generated header, rewritten only when it
# changes, so a commit does not rebuild every object.
$(BUILD)/gen/avp_version.h: FORCE
	@mkdir -p $(@D)
	@echo '#define AVP_VERSION "$(VERSION)"' > $@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@

$(BUILD)/obj/src/cli/main.o $(BUILD)/obj/src/core/describe.o: $(BUILD)/gen/avp_version.h

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(TEST_SUPPORT_OBJS) $(BUILD)/libavp.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

# Each test binary is a cmocka group; the runner sums their results.
check: $(BUILD)/avp $(TEST_BINS)
	@scripts/run-unit-tests $(BUILD)/tests

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
