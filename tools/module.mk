# One folder per program.  The daemon's own code (xlmigd.conf, the control
# protocol) lives beside it; xlmig, its client, links those two files too.
XLMIG := $(BUILD)/xlmig
XLMIG_SIMDOM := $(BUILD)/xlmig-simdom
XLMIGD := $(BUILD)/xlmigd

XLMIGD_SRCS := $(addprefix tools/xlmigd/, xlmigd.c events.c jobs.c queue.c \
	admission.c drain.c workers.c control.c listeners.c conf.c ctl.c \
	xsorch.c) xenstore/request.c xenstore/watcher.c
XLMIG_SRCS := $(addprefix tools/xlmig/, xlmig.c commands.c client.c \
	evacuate.c tunnel_cmd.c) \
	tools/xlmigd/conf.c tools/xlmigd/ctl.c
XLMIG_SIMDOM_SRCS := $(addprefix tools/xlmig-simdom/, backends.c \
	xlmig-simdom.c workload.c dirty.c server.c net.c disk.c \
	mirror.c)
# Linked into the unit tests and fuzz targets of the daemon's parsers.
DAEMON_PARSER_SRCS := tools/xlmigd/conf.c tools/xlmigd/ctl.c \
	xenstore/request.c

XLMIG_SAVE_HELPER := $(BUILD)/xlmig-save-helper

# dom0's vif script for simulated domains, beside the programs that run
# it (the test daemon in $(BUILD)/tests too).
VIF_SCRIPT := $(BUILD)/vif-bridge-sim $(BUILD)/tests/vif-bridge-sim
$(VIF_SCRIPT): dom0/vif-bridge-sim
	@mkdir -p $(dir $@)
	install -m 755 $< $@

tools: $(XLMIG) $(XLMIG_SIMDOM) $(XLMIGD) $(XLMIG_SAVE_HELPER) $(VIF_SCRIPT)

# Each job's xc_domain_save() runs in it (backend/xen/save_helper.h):
# libxc only, nothing of the library.
XEN_SAVE_LIBS := $(shell pkg-config --libs xenguest xencontrol xentoollog \
	2>/dev/null)
$(XLMIG_SAVE_HELPER): $(BUILD)/tools/xlmig-save-helper/xlmig-save-helper.o
	$(CC) $(LDFLAGS) -o $@ $^ $(XEN_SAVE_LIBS)

$(XLMIGD): $(XLMIGD_SRCS:%.c=$(BUILD)/%.o) $(LIBXLMIG_A)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lpthread

$(XLMIG): $(XLMIG_SRCS:%.c=$(BUILD)/%.o) $(LIBXLMIG_A)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# The simulated domain needs no Xen library (backends.c).
SIM_LIBS := $(shell pkg-config --libs yajl libssl libcrypto 2>/dev/null)
$(XLMIG_SIMDOM): $(XLMIG_SIMDOM_SRCS:%.c=$(BUILD)/%.o) $(LIBXLMIG_A)
	$(CC) $(LDFLAGS) -o $@ $^ $(SIM_LIBS)

install: all
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/lib \
		$(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/share/man/man1 \
		$(DESTDIR)$(PREFIX)/share/man/man5 \
		$(DESTDIR)$(PREFIX)/share/man/man8 \
		$(DESTDIR)/etc/xlmig $(DESTDIR)/lib/systemd/system \
		$(DESTDIR)$(PREFIX)/lib/xlmig
	install -m 755 $(XLMIG) $(XLMIG_SIMDOM) $(XLMIGD) dom0/xlmig-certs \
		$(DESTDIR)$(PREFIX)/sbin/
	install -m 644 $(LIBXLMIG_SO) $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(XLMIG_SAVE_HELPER) dom0/vif-bridge-sim \
		$(DESTDIR)$(PREFIX)/lib/xlmig/
	install -m 644 libxl-ext/include/libxlmig.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 docs/man/xlmig.1 docs/man/xlmig-simdom.1 \
		$(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 644 docs/man/xlmigd.conf.5 $(DESTDIR)$(PREFIX)/share/man/man5/
	install -m 644 docs/man/xlmig-certs.8 docs/man/xlmigd.8 \
		$(DESTDIR)$(PREFIX)/share/man/man8/
	install -m 644 dom0/xlmigd.service dom0/xlmig-drain.service \
		$(DESTDIR)/lib/systemd/system/
	install -m 755 dom0/xlmig-drain-on-shutdown $(DESTDIR)$(PREFIX)/lib/xlmig/
	install -d $(DESTDIR)$(PREFIX)/share/doc/xlmig/examples
	install -m 644 dom0/examples/cron \
		$(DESTDIR)$(PREFIX)/share/doc/xlmig/examples/
	install -m 755 dom0/examples/maintenance-runbook \
		$(DESTDIR)$(PREFIX)/share/doc/xlmig/examples/
	[ -e $(DESTDIR)/etc/xlmig/xlmigd.conf ] || \
		install -m 600 dom0/xlmigd.conf $(DESTDIR)/etc/xlmig/
