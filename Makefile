# postern - top-level Makefile.
#
#   make            build bin/ (user commands) and libexec/ (daemons)
#   make test       install missing Debian packages (as root), then run the
#                   unit tests (ASan+UBSan) and the system tests
#   make run        build, create an instance in ./.run and run it in the
#                   foreground, logging to stdout (Ctrl-C stops it)
#   make install    install under DESTDIR with PREFIX (see README.md)
#   make clean

PREFIX     ?= /usr
SYSCONFDIR ?= /etc/postern
SBINDIR    ?= $(PREFIX)/sbin
BINDIR     ?= $(PREFIX)/bin
LIBEXECDIR ?= $(PREFIX)/libexec/postern
MANDIR     ?= $(PREFIX)/share/man
QUEUEDIR   ?= /var/spool/postern
DESTDIR    ?=

CC      ?= cc
OPT     ?= -O2 -g
WARN    = -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-format-nonliteral \
	  -Wmissing-prototypes -Wstrict-prototypes
VERSION = 0.1.0
DEFS    = -D_GNU_SOURCE -DPOSTERN_VERSION='"$(VERSION)"' -DDEF_CONFIG_DIR='"$(SYSCONFDIR)"' \
	  -DDEF_DAEMON_DIR='"$(LIBEXECDIR)"' -DDEF_COMMAND_DIR='"$(SBINDIR)"' \
	  -DDEF_QUEUE_DIR='"$(QUEUEDIR)"'
CFLAGS  = -std=gnu11 $(OPT) $(WARN) $(DEFS) -Ilib
SANFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

-include makedefs.out

# Programs: directory -> output. Each directory's *.c link with lib/; a
# program is built once its directory has sources.
have_src      = $(foreach p,$(1),$(if $(wildcard $(p)/*.c),$(p)))
BIN_PROGS     = $(call have_src,postern sendmail postdrop postqueue)
LIBEXEC_PROGS = $(call have_src,master postlogd pickup cleanup qmgr trivial-rewrite local bounce showq smtpd smtp)
# Names under which sendmail is also installed (it acts on argv[0]).
SENDMAIL_LINKS = $(if $(filter sendmail,$(BIN_PROGS)),bin/mailq bin/newaliases)
DEP_LIBS      = $(SSL_LIBS) $(SASL_LIBS) $(PCRE2_LIBS) $(DB_LIBS) $(SPF2_LIBS) -lresolv
PROG_LIBS     =

LIB_SRCS  = $(sort $(wildcard lib/*.c))
LIB_OBJS  = $(LIB_SRCS:%.c=build/obj/%.o)
ASAN_LIB_OBJS = $(LIB_SRCS:%.c=build/asan/%.o)

UNIT_SRCS  = $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS  = $(UNIT_SRCS:tests/unit/%.c=build/asan/tests/%)
TEST_SERVICE_SRCS = $(sort $(wildcard tests/services/*.c))
TEST_SERVICES = $(TEST_SERVICE_SRCS:tests/services/%.c=build/test-libexec/%)

ALL_BINS = $(BIN_PROGS:%=bin/%) $(LIBEXEC_PROGS:%=libexec/%)

.SECONDEXPANSION:
.PHONY: FORCE all deps test unit-tests system-tests run install clean bench fuzz fuzz-run
.SECONDARY:

all: makedefs.out $(ALL_BINS) $(SENDMAIL_LINKS) $(TEST_SERVICES)

$(SENDMAIL_LINKS): bin/sendmail
	@ln -sf sendmail $@

makedefs.out: makedefs
	./makedefs

# Rebuild everything when the flags (paths included) change.
build/flags: FORCE
	@mkdir -p build
	@echo '$(CFLAGS)' | cmp -s - $@ || echo '$(CFLAGS)' > $@
FORCE:

deps:
	tools/install-deps test

build/obj/%.o: %.c $(wildcard lib/*.h) $$(wildcard $$(dir $$*)*.h) makedefs.out build/flags
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CFLAGS) $(SSL_CFLAGS) $(SASL_CFLAGS) $(PCRE2_CFLAGS) $(DB_CFLAGS) -c -o $@ $<

build/asan/%.o: %.c $(wildcard lib/*.h) $$(wildcard $$(dir $$*)*.h) makedefs.out build/flags
	@mkdir -p $(dir $@)
	@echo "  CC/SAN  $<"
	@$(CC) $(CFLAGS) $(SANFLAGS) $(CMOCKA_CFLAGS) -c -o $@ $<

build/libpostern.a: $(LIB_OBJS)
	@rm -f $@
	@ar rcs $@ $^

build/asan/libpostern.a: $(ASAN_LIB_OBJS)
	@rm -f $@
	@ar rcs $@ $^

# prog_rule(dir, output)
define prog_rule
$(2): $(patsubst %.c,build/obj/%.o,$(wildcard $(1)/*.c)) build/libpostern.a
	@mkdir -p $$(dir $$@)
	@echo "  LD      $$@"
	@$$(CC) $$(CFLAGS) -Wl,--as-needed -o $$@ $$^ $$(DEP_LIBS)
endef
$(foreach p,$(BIN_PROGS),$(eval $(call prog_rule,$(p),bin/$(p))))
$(foreach p,$(LIBEXEC_PROGS),$(eval $(call prog_rule,$(p),libexec/$(p))))

# The admin command carries the configuration templates.
build/gen/templates.c: conf/main.cf conf/master.cf tools/embed
	@mkdir -p $(dir $@)
	tools/embed $@ template_main_cf=conf/main.cf template_master_cf=conf/master.cf
bin/postern: build/obj/build/gen/templates.o

build/test-libexec/%: build/obj/tests/services/%.o build/libpostern.a
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) -Wl,--as-needed -o $@ $^ $(DEP_LIBS)

# A unit test may also link program sources: TEST_SRCS_test_NAME = dir/x.c
TEST_SRCS_test_sendmail = $(filter-out sendmail/sendmail.c,$(wildcard sendmail/*.c))
TEST_SRCS_test_bounce = $(filter-out bounce/bounce.c,$(wildcard bounce/*.c))
TEST_SRCS_test_smtpd = $(filter-out smtpd/smtpd.c,$(wildcard smtpd/*.c))
TEST_SRCS_test_trivial_rewrite = $(filter-out trivial-rewrite/trivial-rewrite.c,$(wildcard trivial-rewrite/*.c))
TEST_SRCS_test_smtp = $(filter-out smtp/smtp.c,$(wildcard smtp/*.c))
TEST_SRCS_test_sasl = smtp/smtp_reply.c
# (a % inside the rule text would be taken for the stem: use a function)
asan_objs = $(patsubst %.c,build/asan/%.o,$(1))
fuzz_objs = $(patsubst %.c,build/fuzz/%.o,$(1))
build/asan/tests/%: build/asan/tests/unit/%.o $$(call asan_objs,$$(TEST_SRCS_$$*)) build/asan/libpostern.a
	@mkdir -p $(dir $@)
	@echo "  LD/SAN  $@"
	@$(CC) $(CFLAGS) $(SANFLAGS) -Wl,--as-needed -o $@ $^ $(CMOCKA_LIBS) $(DEP_LIBS)

unit-build: $(UNIT_BINS)

# The whole suite. As root, missing Debian packages are installed first.
test:
	@tools/install-deps test
	@$(MAKE) --no-print-directory all unit-build
	@tests/run

unit-tests: all unit-build
	@tests/run unit

system-tests: all
	@tests/run system

run:
	@tools/install-deps build
	@$(MAKE) --no-print-directory all
	@test -f .run/main.cf || { bin/postern -c $(CURDIR)/.run init --port $${PORT:-2525} && \
		bin/postern -c $(CURDIR)/.run conf -e maillog_file=/dev/stdout; }
	bin/postern -c $(CURDIR)/.run start-fg

# Benchmark against a private Postfix instance (root; never fails the build).
# BENCH_N=messages per run, see bench/README.md.
bench: all
	@bench/run-local

# Fuzz harnesses (libFuzzer, clang): tests/fuzz/fuzz_NAME.c, linked with
# lib/ (and, through FUZZ_SRCS_fuzz_NAME, program sources) built by clang.
# `make fuzz` builds them; `make fuzz-run FUZZ_SECONDS=600` runs each one,
# growing its corpus in tests/fuzz/corpus/NAME (kept in git).
FUZZ_CC    ?= clang
FUZZFLAGS   = -std=gnu11 -g -O1 $(DEFS) -Ilib -Ismtpd -Ismtp -fsanitize=fuzzer-no-link,address,undefined
FUZZ_SRCS   = $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS   = $(FUZZ_SRCS:tests/fuzz/%.c=build/fuzz/%)
FUZZ_LIB_OBJS = $(LIB_SRCS:%.c=build/fuzz/%.o)
FUZZ_SECONDS ?= 60
FUZZ_SMTPD   = smtpd/smtpd_parse.c smtpd/smtpd_data.c
FUZZ_SRCS_fuzz_smtpd_cmd  = $(FUZZ_SMTPD)
FUZZ_SRCS_fuzz_smtpd_addr = $(FUZZ_SMTPD)
FUZZ_SRCS_fuzz_smtpd_data = $(FUZZ_SMTPD)
FUZZ_SRCS_fuzz_smtp_reply = smtp/smtp_reply.c

build/fuzz/%.o: %.c $(wildcard lib/*.h) $$(wildcard $$(dir $$*)*.h) makedefs.out build/flags
	@mkdir -p $(dir $@)
	@echo "  CC/FUZZ $<"
	@$(FUZZ_CC) $(FUZZFLAGS) -c -o $@ $<

build/fuzz/libpostern.a: $(FUZZ_LIB_OBJS)
	@rm -f $@
	@ar rcs $@ $^

build/fuzz/fuzz_%: build/fuzz/tests/fuzz/fuzz_%.o $$(call fuzz_objs,$$(FUZZ_SRCS_fuzz_$$*)) build/fuzz/libpostern.a
	@echo "  LD/FUZZ $@"
	@$(FUZZ_CC) -fsanitize=fuzzer,address,undefined -o $@ $^ $(DEP_LIBS)

fuzz: makedefs.out
	@tools/install-deps fuzz
	@$(MAKE) --no-print-directory $(FUZZ_BINS)

fuzz-run: fuzz
	@for f in $(FUZZ_BINS); do \
		name=$${f##*/fuzz_}; mkdir -p tests/fuzz/corpus/$$name; \
		echo "== $$name ($(FUZZ_SECONDS)s)"; \
		$$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 tests/fuzz/corpus/$$name 2>&1 | tail -n 12 || exit 1; \
	done

install: all
	tools/install-sh "$(DESTDIR)" "$(SBINDIR)" "$(LIBEXECDIR)" "$(SYSCONFDIR)" "$(MANDIR)" "$(QUEUEDIR)"

clean:
	rm -rf build bin libexec makedefs.out
