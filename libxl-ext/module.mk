LIB_SRCS := $(addprefix libxl-ext/, util.c ctx.c crc32c.c stream.c dump.c \
	job.c policy.c proto.c preflight.c live.c quick.c tls.c conf.c migrate.c channel.c ctl.c backend_sim.c backend_xen.c qmp.c xen_stream.c xen_cpu.c tunnel.c tunnel_cmd.c xl_send.c sim_config.c sim_host.c \
	sim_ipc.c sim_layout.c)
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
