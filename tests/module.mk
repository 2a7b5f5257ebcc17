UNIT_TESTS := test_crc32c test_l2 test_stream test_job test_log test_util test_simconfig test_simlayout test_preflight \
	test_policy test_proto test_conf test_ctl test_qmp test_xl_send test_evac \
	test_xsreq
UNIT_BINS := $(UNIT_TESTS:%=$(BUILD)/tests/unit/%)

$(BUILD)/tests/unit/%: $(BUILD)/tests/unit/%.o \
		$(DAEMON_PARSER_SRCS:%.c=$(BUILD)/%.o) $(LIBXLMIG_A)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lcmocka

# Helper programs the integration scripts drive.
INTEG_HELPERS := logdirty_check tls_check live_send attach_probe stream_mutate \
	netprobe leasehold
INTEG_BINS := $(INTEG_HELPERS:%=$(BUILD)/tests/integration/%)

$(BUILD)/tests/integration/%: $(BUILD)/tests/integration/%.o $(LIBXLMIG_A)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# libFuzzer targets, built with clang in their own tree.
FUZZ_TARGETS := fuzz_stream fuzz_simconfig fuzz_proto fuzz_conf fuzz_ctl fuzz_qmp \
	fuzz_simnic \
	fuzz_preflight fuzz_xsreq
FUZZ_BUILD := build-fuzz
FUZZ_CFLAGS := -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined \
	-DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION -D_GNU_SOURCE -DXLMIG_VERSION='"$(VERSION)"' -Ilibxl-ext/include \
	-Ilibxl-ext -Itools -I. $(PKG_CFLAGS)
FUZZ_LIB_SRCS := $(PARSER_SRCS) $(DAEMON_PARSER_SRCS)

$(FUZZ_BUILD)/%: tests/fuzz/%.c $(FUZZ_LIB_SRCS)
	@mkdir -p $(FUZZ_BUILD)
	clang $(FUZZ_CFLAGS) -o $@ $^ -lpthread -lyajl

fuzz: $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/%)

# The daemon the integration tests run: xlmigd with the fault hooks
# (tests/hooks/fault_hooks.c), which no shipped binary has.
XLMIGD_TEST := $(BUILD)/tests/xlmigd
$(XLMIGD_TEST): $(XLMIGD_SRCS:%.c=$(BUILD)/%.o) \
		$(BUILD)/tests/hooks/fault_hooks.o $(LIBXLMIG_A)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lpthread

TEST_BINS := $(UNIT_BINS) $(INTEG_BINS) $(XLMIGD_TEST)

# The public targets install missing packages first, then build in a
# fresh make (so pkg-config sees what was just installed).
check demo bench lab: deps
	@$(MAKE) --no-print-directory _$@

# The Xen lab (docs/lab.md): images built once into $(LAB_DIR), then two
# Xen hosts under QEMU.
LAB_DIR ?= /var/tmp/xlmig-lab
_lab: all $(XLMIGD_TEST)
	@BUILD=$(BUILD) LAB_DIR=$(LAB_DIR) sh tests/lab/build.sh

lab-check: lab
	@LAB_DIR=$(LAB_DIR) sh tests/lab/check.sh

# The same migrations, for their figures: stock xl and xlmig for each guest
# type, and stock xl over xlmig tunnel; no fault cases.
lab-bench: lab
	@LAB_DIR=$(LAB_DIR) LAB_FAULT_TYPES= LAB_HEAVY_XL=1 sh tests/lab/check.sh

_check: all $(TEST_BINS) fuzz
	@BUILD=$(BUILD) FUZZ_BUILD=$(FUZZ_BUILD) SANITIZE=$(SANITIZE) \
		sh tests/run.sh

_demo: all
	@BUILD=$(BUILD) sh tests/demo.sh

_bench: all $(BUILD)/tests/integration/netprobe
	@BUILD=$(BUILD) sh tests/bench/saverestore.sh
	@echo
	@BUILD=$(BUILD) sh tests/bench/migrate.sh
	@echo
	@BUILD=$(BUILD) sh tests/bench/network.sh
	@echo
	@BUILD=$(BUILD) sh tests/bench/storage.sh
	@echo
	@BUILD=$(BUILD) sh tests/bench/storage_copy.sh
	@echo
	@BUILD=$(BUILD) sh tests/bench/orchestration.sh

.PHONY: fuzz _check _demo _bench _lab lab-check lab-bench
