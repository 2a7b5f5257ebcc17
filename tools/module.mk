XLMIG := $(BUILD)/xlmig
XLMIG_SIMDOM := $(BUILD)/xlmig-simdom
XLMIGD := $(BUILD)/xlmigd

tools: $(XLMIG) $(XLMIG_SIMDOM) $(XLMIGD)

$(XLMIGD): $(BUILD)/tools/xlmigd.o $(LIBXLMIG_A)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lpthread

$(XLMIG): $(BUILD)/tools/xlmig.o $(BUILD)/tools/client.o \
		$(BUILD)/tools/tunnel_cmd.o $(LIBXLMIG_A)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(XLMIG_SIMDOM): $(BUILD)/tools/xlmig-simdom.o $(LIBXLMIG_A)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

install: all
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/lib \
		$(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/share/man/man1 \
		$(DESTDIR)$(PREFIX)/share/man/man5 \
		$(DESTDIR)$(PREFIX)/share/man/man8 \
		$(DESTDIR)/etc/xlmig $(DESTDIR)/lib/systemd/system
	install -m 755 $(XLMIG) $(XLMIG_SIMDOM) $(XLMIGD) dom0/xlmig-certs \
		$(DESTDIR)$(PREFIX)/sbin/
	install -m 644 $(LIBXLMIG_SO) $(DESTDIR)$(PREFIX)/lib/
	install -m 644 libxl-ext/include/libxlmig.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 docs/man/xlmig.1 docs/man/xlmig-simdom.1 \
		$(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 644 docs/man/xlmigd.conf.5 $(DESTDIR)$(PREFIX)/share/man/man5/
	install -m 644 docs/man/xlmig-certs.8 docs/man/xlmigd.8 \
		$(DESTDIR)$(PREFIX)/share/man/man8/
	install -m 644 dom0/xlmigd.service $(DESTDIR)/lib/systemd/system/
	[ -e $(DESTDIR)/etc/xlmig/xlmigd.conf ] || \
		install -m 600 dom0/xlmigd.conf $(DESTDIR)/etc/xlmig/
