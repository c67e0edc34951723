# ladle: build, test, demo, bench, install.
#
#   make                 build build/ladle and the require-able C modules
#   make demo            the main job on a throwaway PostgreSQL cluster
#   make test            the busted suite against a throwaway cluster
#   make test SANITIZE=1 the same, built with AddressSanitizer + UBSan
#   make bench           benchmarks that print ratios against psql / pg_dump
#   make install PREFIX=/usr/local DESTDIR=
#
# demo and test install missing Debian packages when run as root, and
# otherwise stop with the apt-get command to run.

PREFIX   ?= /usr/local
BINDIR   ?= $(PREFIX)/bin
LUADIR   ?= $(PREFIX)/share/lua/5.4
CMODDIR  ?= $(PREFIX)/lib/lua/5.4
CC       ?= cc
CFLAGS   ?= -O2 -g
BUSTED   ?= lua5.4 /usr/bin/busted
BUSTED_FLAGS ?=

BUILD    := build
SANFLAGS :=
ifeq ($(SANITIZE),1)
BUILD    := build/san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
endif

# Debian packages, by what needs them.
DEBS_BUILD := gcc libc6-dev make pkg-config liblua5.4-dev libpq-dev libyaml-dev libreadline-dev
DEBS_RUN   := postgresql-15
DEBS_TEST  := lua5.4 lua-busted python3 python3-psycopg2 libxml2-utils

# Evaluated when used, so that a freshly installed pkg-config is seen.
PKG_CFLAGS = $(shell pkg-config --cflags lua5.4 libpq yaml-0.1 readline)
LIBS_pq    = $(shell pkg-config --libs libpq)
LIBS_yaml  = $(shell pkg-config --libs yaml-0.1)
LIBS_exe   = $(shell pkg-config --libs lua5.4 libpq yaml-0.1 readline) -lm

WARN := -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes \
        -Wpointer-arith -Wundef -Wvla -Wwrite-strings -Wno-unused-parameter
ALL_CFLAGS = -std=gnu11 -fPIC $(WARN) $(CFLAGS) $(SANFLAGS) -Iinclude $(PKG_CFLAGS) \
             -DLADLE_LUADIR='"$(LUADIR)"' -MMD -MP

# C modules: require name -> objects (joined with +) -> libraries. A module
# links the objects it needs; the executable links every object once.
MODULES := ladle/pg/core:lpg+result:pq \
           ladle/sys:lsys+result+rmtree: \
           ladle/sandbox/core:lsandbox+result+rmtree: \
           ladle/delta/core:ldelta+split+box+result: \
           ladle/yaml:lyaml+box+result:yaml
mod_name = $(word 1,$(subst :, ,$(1)))
mod_objs = $(patsubst %,$(BUILD)/obj/%.o,$(subst +, ,$(word 2,$(subst :, ,$(1)))))
mod_libs = $(word 3,$(subst :, ,$(1)))

MODULE_OBJS := $(sort $(foreach m,$(MODULES),$(call mod_objs,$(m))))
MODULE_SOS  := $(foreach m,$(MODULES),$(BUILD)/lib/$(call mod_name,$(m)).so)
EXE_OBJS    := $(BUILD)/obj/main.o $(BUILD)/obj/interrupt.o $(BUILD)/obj/repl.o $(MODULE_OBJS)

.PHONY: all test demo bench install uninstall clean deps-build deps-demo deps-test

all: $(BUILD)/ladle $(MODULE_SOS)

$(BUILD)/.gitignore:
	@mkdir -p $(BUILD)/obj
	@echo '*' > $@

$(BUILD)/obj/%.o: src/%.c include/ladle.h | $(BUILD)/.gitignore
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/ladle: $(EXE_OBJS)
	$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $(EXE_OBJS) $(LIBS_exe)

define module_rule
$(BUILD)/lib/$(call mod_name,$(1)).so: $(call mod_objs,$(1))
	@mkdir -p $$(dir $$@)
	$$(CC) -shared $$(CFLAGS) $$(SANFLAGS) -o $$@ $$^ $$(LIBS_$(call mod_libs,$(1)))
endef
$(foreach m,$(MODULES),$(eval $(call module_rule,$(m))))

-include $(wildcard $(BUILD)/obj/*.d)

# Test-only C modules (spec/support/NAME.c -> require "support.NAME").
TEST_SOS := $(BUILD)/lib/support/pty.so
$(BUILD)/lib/support/%.so: spec/support/%.c | $(BUILD)/.gitignore
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -fPIC -shared $(WARN) $(CFLAGS) $(SANFLAGS) $(PKG_CFLAGS) -o $@ $< -lutil

# --- Debian packages ------------------------------------------------------

define ensure_debs
	@missing=""; \
	if command -v dpkg-query >/dev/null 2>&1; then \
	  for p in $(1); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q ' installed$$' || missing="$$missing $$p"; \
	  done; \
	fi; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "ladle: installing Debian packages:$$missing"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null || exit 1; \
	  else \
	    echo "ladle: missing Debian packages; run: sudo apt-get install -y$$missing" >&2; \
	    exit 1; \
	  fi; \
	fi
endef

deps-build:
	$(call ensure_debs,$(DEBS_BUILD))
deps-demo:
	$(call ensure_debs,$(DEBS_BUILD) $(DEBS_RUN))
deps-test:
	$(call ensure_debs,$(DEBS_BUILD) $(DEBS_RUN) $(DEBS_TEST))

# --- The two commands of the README ---------------------------------------

demo: deps-demo
	@$(MAKE) --no-print-directory all
	$(BUILD)/ladle run examples/demo.lua

ifeq ($(SANITIZE),1)
TEST_ENV = LD_PRELOAD="$$($(CC) -print-file-name=libasan.so)" \
           ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
           UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
endif

test: deps-test
	@$(MAKE) --no-print-directory all $(TEST_SOS)
	@$(TEST_ENV) LADLE_EXE=$(CURDIR)/$(BUILD)/ladle $(BUSTED) --cpath='$(CURDIR)/$(BUILD)/lib/?.so' $(BUSTED_FLAGS)

bench: deps-test
	@$(MAKE) --no-print-directory all
	@LADLE_EXE=$(CURDIR)/$(BUILD)/ladle $(BUILD)/ladle run spec/bench/run.lua

# --- Installation -----------------------------------------------------------

install: all
	install -d $(DESTDIR)$(BINDIR)
	install -m 755 $(BUILD)/ladle $(DESTDIR)$(BINDIR)/ladle
	cd lua && find ladle -name '*.lua' -o -name '*.py' | while read -r f; do \
	  install -D -m 644 "$$f" "$(DESTDIR)$(LUADIR)/$$f" || exit 1; done
	for m in $(MODULES); do n=$${m%%:*}; \
	  install -D -m 755 $(BUILD)/lib/$$n.so $(DESTDIR)$(CMODDIR)/$$n.so || exit 1; done

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/ladle
	rm -rf $(DESTDIR)$(LUADIR)/ladle $(DESTDIR)$(CMODDIR)/ladle

clean:
	rm -rf build
