# xlmig: one entry point.
#   make            build library and tools
#   make check      all tests (unit, fuzz smoke, integration); SANITIZE=1
#                   builds and runs them under ASan+UBSan
#   make demo       live-migrate a busy simulated domain between two
#                   namespace hosts over TLS, verified (as root)
#   make bench      save/restore throughput figures
#   make install    install under $(DESTDIR)$(PREFIX)

VERSION := 0.1.0
PREFIX ?= /usr/local
SANITIZE ?= 0
BUILD ?= $(if $(filter 1,$(SANITIZE)),build-san,build)

CC ?= cc
PKGS := xenlight xenguest xencontrol xenstore xentoollog yajl libssl libcrypto
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wno-missing-field-initializers \
	  -MMD -MP -pthread -fPIC -fstack-protector-strong \
	  -D_GNU_SOURCE -D_FORTIFY_SOURCE=2 -DXLMIG_VERSION='"$(VERSION)"' \
	  -Ilibxl-ext/include -Ilibxl-ext -Itools -I. $(PKG_CFLAGS)
LDFLAGS += -pthread -Wl,-z,relro -Wl,-z,now
ifeq ($(SANITIZE),1)
CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all -O1
LDFLAGS += -fsanitize=address,undefined
endif

all: lib tools

include libxl-ext/module.mk
include tools/module.mk
include tests/module.mk

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

deps:
	@sh tools/install-deps.sh

clean:
	rm -rf build build-san build-fuzz

.PHONY: all deps clean lib tools check demo bench install lab
# Keep intermediate objects (and keep make quiet after the test summary).
.SECONDARY:
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
