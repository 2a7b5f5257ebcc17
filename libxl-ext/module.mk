# libxlmig, one folder per concern (docs/development.md): core/ (context,
# logging, bounded cursors), proto/ (wire and file formats), transport/
# (TLS, the tunnel), engine/ (jobs, policy, the two sides of a migration,
# durable records), backend/sim/ and backend/xen/.
CORE_SRCS := $(addprefix libxl-ext/core/, util.c log.c ctx.c backends.c \
	checks.c crc32c.c)
PROTO_SRCS := $(addprefix libxl-ext/proto/, stream.c stream_write.c \
	stream_read.c message.c preflight.c dump.c xen_stream.c l2.c)
TRANSPORT_SRCS := $(addprefix libxl-ext/transport/, tls.c conn.c tunnel.c \
	tunnel_cmd.c)
ENGINE_SRCS := $(addprefix libxl-ext/engine/, job.c mjob.c fault.c policy.c \
	precopy.c quick.c preflight.c records.c stream_conn.c channels.c \
	source.c source_xl.c dest.c serve.c announce.c storage.c evac.c)
BACKEND_SRCS := libxl-ext/backend/host_probe.c \
	libxl-ext/backend/sim/sim_check.c libxl-ext/backend/xen/xen_check.c
SIM_SRCS := $(addprefix libxl-ext/backend/sim/, backend_sim.c sim_config.c \
	sim_host.c sim_ipc.c sim_layout.c sim_nic.c sim_storage.c)
XEN_SRCS := $(addprefix libxl-ext/backend/xen/, backend_xen.c xen_save.c \
	xen_restore.c xen_preflight.c libxl_compat.c qmp.c xen_cpu.c xen_net.c)

# Where `make install` puts xlmig-save-helper and vif-bridge-sim (found
# beside the running program first).
$(BUILD)/libxl-ext/backend/xen/xen_save.o \
$(BUILD)/libxl-ext/backend/sim/sim_host.o: CFLAGS += \
	-DXLMIG_LIBEXEC_DIR='"$(PREFIX)/lib/xlmig"'

# libxl_compat.c is pinned to the libxl it was written against.
XENLIGHT_VERSION := $(subst ., ,$(shell pkg-config --modversion xenlight 2>/dev/null))
$(BUILD)/libxl-ext/backend/xen/libxl_compat.o: CFLAGS += \
	-DXLMIG_XENLIGHT_MAJOR=$(or $(word 1,$(XENLIGHT_VERSION)),0) \
	-DXLMIG_XENLIGHT_MINOR=$(or $(word 2,$(XENLIGHT_VERSION)),0)

LIB_SRCS := $(CORE_SRCS) $(PROTO_SRCS) $(TRANSPORT_SRCS) $(ENGINE_SRCS) \
	$(BACKEND_SRCS) $(SIM_SRCS) $(XEN_SRCS)
# The parsers of outside input, which the fuzz targets build with clang.
PARSER_SRCS := libxl-ext/core/util.c libxl-ext/core/log.c \
	libxl-ext/core/checks.c libxl-ext/backend/sim/sim_check.c \
	libxl-ext/backend/xen/xen_check.c \
	libxl-ext/core/crc32c.c \
	libxl-ext/proto/stream.c libxl-ext/proto/stream_write.c \
	libxl-ext/proto/stream_read.c libxl-ext/proto/message.c \
	libxl-ext/proto/preflight.c libxl-ext/engine/preflight.c \
	libxl-ext/backend/host_probe.c libxl-ext/backend/sim/sim_config.c \
	libxl-ext/backend/sim/sim_layout.c libxl-ext/backend/xen/qmp.c \
	libxl-ext/transport/tunnel_cmd.c libxl-ext/proto/l2.c \
	libxl-ext/backend/sim/sim_nic.c
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
LIBXLMIG_A := $(BUILD)/libxlmig.a
LIBXLMIG_SO := $(BUILD)/libxlmig.so.0

lib: $(LIBXLMIG_A) $(LIBXLMIG_SO) $(BUILD)/header-check.stamp

$(LIBXLMIG_A): $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(LIBXLMIG_SO): $(LIB_OBJS) libxl-ext/libxlmig.map
	$(CC) -shared -Wl,-soname,libxlmig.so.0 \
		-Wl,--version-script=libxl-ext/libxlmig.map $(LDFLAGS) \
		-o $@ $(LIB_OBJS) $(PKG_LIBS)

# The public header must compile on its own, warnings fatal.
$(BUILD)/header-check.stamp: libxl-ext/include/libxlmig.h
	@mkdir -p $(BUILD)
	echo '#include "libxlmig.h"' | $(CC) -std=c99 -Wall -Wextra -Werror \
		-pedantic -Ilibxl-ext/include -x c -fsyntax-only -
	@touch $@
