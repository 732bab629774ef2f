# adaptfs — make | make test | make check-asan | make check-tsan | make bench | make install | make run
PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
UNITDIR ?= /lib/systemd/system
TMPFILESDIR ?= /usr/lib/tmpfiles.d
DATADIR ?= $(PREFIX)/share
DESTDIR ?=
MOUNTPOINT ?= /adapt
VERSION := 0.1

# Debian packages, in two sets (make deps, make deps-test; each line's
# packages are in README). DEPS_RUN builds and runs adaptfs and starts no
# service; the engines it drives (runc, QEMU, LXC, CRIU) are the operator's
# choice, as the .deb's Recommends and Suggests. DEPS_TEST adds what the tests
# and benches call, the engines among them; tests/deps-install keeps the
# services these packages ship from starting.
DEPS_RUN := make gcc libc6-dev pkg-config fuse3 libfuse3-dev libinih-dev libjansson-dev liburing-dev libnftables-dev \
	    libsystemd-dev libncurses-dev libxen-dev libcmocka-dev
DEPS_TEST := bats bats-assert bats-support mmdebstrap git clang libclang-rt-14-dev valgrind strace \
	     inotify-tools man-db jq curl python3 rsync tmux cpio xz-utils zstd lz4 busybox-static \
	     iproute2 procps util-linux systemd stress-ng wrk gnuplot-nox \
	     lxc lxc-templates runc crun criu lxcfs qemu-system-x86 linux-image-amd64 libvirt-daemon-system \
	     nginx-light prometheus prometheus-node-exporter collectd-core build-essential debhelper \
	     lintian
# bench/prefetch's services (the second paper's web and database tiers).
DEPS_BENCH := apache2 mariadb-server ruby ruby-mysql2

# pkg-config is asked when a recipe first needs its answer, not when make reads
# this file: `make deps all` installs the -dev packages before that. Each
# answer is then kept ($(eval VAR := ...)), so pkg-config runs once per make.
# XEN=no builds without the Xen backend even where libxenstat is (the .deb
# does, unless its build profile pkg.adaptfs.xen asks: debian/rules).
XEN ?= auto
HAVE_XENSTAT = $(eval HAVE_XENSTAT := $(if $(filter no,$(XEN)),,$(shell pkg-config --exists xenstat && echo 1)))$(HAVE_XENSTAT)
HAVE_SYSTEMD = $(eval HAVE_SYSTEMD := $(shell pkg-config --exists libsystemd && echo 1))$(HAVE_SYSTEMD)
PKGS = fuse3 inih jansson liburing libnftables $(if $(HAVE_XENSTAT),xenstat) $(if $(HAVE_SYSTEMD),libsystemd)
pkg_config = $(or $(shell pkg-config $(1) $(PKGS)),$(error pkg-config $(1) $(PKGS) failed: run 'make deps'))
PKG_CFLAGS = $(eval PKG_CFLAGS := $(call pkg_config,--cflags))$(PKG_CFLAGS)
PKG_LIBS = $(eval PKG_LIBS := $(call pkg_config,--libs))$(PKG_LIBS)

CC ?= cc
CFLAGS ?= -O2 -g
# CPPFLAGS and LDFLAGS are passed too: dpkg-buildflags puts _FORTIFY_SOURCE and
# -z relro -z now there (debian/rules: hardening=+all).
CPPFLAGS ?=
LDFLAGS ?=
# The Xen backend is compiled where libxenstat is (Debian: libxen-dev), and
# sd_notify(READY=1) for systemd's Type=notify where libsystemd is.
BUILD_CFLAGS = -std=gnu11 -Wall -Wextra -MMD -MP -D_GNU_SOURCE -DADAPTFS_VERSION='"$(VERSION)"' \
	  -Ilib -Icollectors -Iactuators -Ifs $(PKG_CFLAGS) \
	  $(if $(HAVE_XENSTAT),-DHAVE_XENSTAT) $(if $(HAVE_SYSTEMD),-DHAVE_SYSTEMD)
LDLIBS = $(PKG_LIBS) -lpthread

LIB_SRC := $(wildcard lib/*.c)
COLLECTOR_SRC := $(wildcard collectors/*.c)
ACTUATOR_SRC := $(wildcard actuators/*.c)
FS_SRC := $(filter-out fs/main.c,$(wildcard fs/*.c))
CORE_SRC := $(LIB_SRC) $(COLLECTOR_SRC) $(ACTUATOR_SRC) $(FS_SRC)

BUILD ?= build
CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/%.o)

all: adaptfs adaptfs-migrate adapttop

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(BUILD_CFLAGS) -c $< -o $@

adaptfs: $(CORE_OBJ) $(BUILD)/fs/main.o
	$(CC) $(CFLAGS) $(BUILD_CFLAGS) $(LDFLAGS) $^ -o $@ $(LDLIBS)

# adaptfs-migrate(8): the destination end of a migration, run on peers.
RECEIVE_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(wildcard actuators/receive/*.c))

# It links what it uses: lib/, the /proc and QMP readers, the QEMU argv
# rewriter; no FUSE front end, sampler or actuators.
RECEIVE_DEPS := $(LIB_SRC:%.c=$(BUILD)/%.o) \
	$(addprefix $(BUILD)/,collectors/proc.o collectors/parse.o collectors/qmp.o actuators/qemu_argv.o)

adaptfs-migrate: $(RECEIVE_OBJ) $(RECEIVE_DEPS)
	$(CC) $(CFLAGS) $(BUILD_CFLAGS) $(LDFLAGS) $^ -o $@ $(shell pkg-config --libs inih jansson) -lpthread

# adapttop(1): a curses viewer, a client of the mounted files (binary adapttop/adapttop).
BINDIR ?= $(PREFIX)/bin
ADAPTTOP_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(wildcard adapttop/*.c))
# jansson for -o json (the daemon links it for QMP)
$(ADAPTTOP_OBJ): BUILD_CFLAGS += $(shell pkg-config --cflags ncursesw jansson)

adapttop: adapttop/adapttop

adapttop/adapttop: $(ADAPTTOP_OBJ) $(BUILD)/lib/util.o
	$(CC) $(CFLAGS) $(LDFLAGS) $^ -o $@ $(shell pkg-config --libs ncursesw jansson) -lpthread -lm

# Unit tests (cmocka): each tests/unit/test_*.c links against the core objects.
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

$(BUILD)/tests/%: tests/unit/%.c $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(BUILD_CFLAGS) $(LDFLAGS) -MF $@.d -MT $@ -DFIXTURES='"$(CURDIR)/tests/fixtures"' $< $(CORE_OBJ) -o $@ $(LDLIBS) -lcmocka

unit: $(UNIT_BIN)
	@for t in $(UNIT_BIN); do echo "== $$t"; $$t || exit 1; done

# bats drives every binary (adaptfs-migrate on peers, adapttop in tmux), and
# tests/commands.bats checks that every command the scripts call comes from
# DEPS_RUN, DEPS_TEST or DEPS_BENCH.
BATS_FILES ?= tests/bats
bats: all
	DEPS_PKGS="$(DEPS_RUN) $(DEPS_TEST)" DEPS_BENCH_PKGS="$(DEPS_BENCH)" bats --print-output-on-failure $(BATS_FILES)

# The cgroup v2 suite, in a QEMU guest booted with cgroup v1 off (tests/v2/run).
v2: all
	bash tests/v2/run

test: unit bats v2

# Unit tests and the daemon's bats files under ASan + UBSan (a report aborts
# the daemon or fails its exit status, so a test fails). SANITIZE_BATS picks
# the bats files that drive the daemon's code paths; load.bats keeps it under
# load for LOAD_SECONDS (60), long enough for reports that need a long run.
SAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
SANITIZE_BATS ?= tests/bats/mount.bats tests/bats/workloads.bats tests/bats/control.bats \
		 tests/bats/prefetch.bats tests/bats/prefetch_readback.bats tests/bats/daemon.bats tests/bats/group.bats tests/bats/hosts.bats \
		 tests/bats/scope.bats tests/bats/migrate.bats tests/bats/uring.bats \
		 tests/bats/procwatch.bats tests/bats/names.bats tests/bats/freshness.bats \
		 tests/bats/follow.bats tests/bats/poll.bats tests/bats/load.bats \
		 tests/bats/mode.bats tests/bats/standby.bats tests/bats/managed_pin.bats \
		 tests/bats/managed_prefetch.bats tests/bats/prefetch_keep.bats tests/bats/clash.bats
check-asan:
	$(MAKE) BUILD=build-asan CFLAGS="$(SAN_FLAGS)" unit adaptfs-asan
	ADAPTFS_BIN=$(CURDIR)/adaptfs-asan ASAN_OPTIONS=detect_leaks=1 \
		bats --print-output-on-failure $(SANITIZE_BATS)

# The daemon under valgrind (slow: several minutes). Not uring.bats: valgrind
# 3.19 keeps its lock while a thread waits in io_uring_enter(2), which
# freezes every other thread (ASan covers fs/uring.c in check-asan).
# migrate.bats's daemons are started by lib/hosts.bash, which waits for no
# exit status: what valgrind finds in them is in VALGRIND_LOGS, which must
# stay empty.
VALGRIND_LOGS := $(CURDIR)/build/valgrind-logs
check-valgrind: adaptfs
	rm -rf $(VALGRIND_LOGS) && mkdir -p $(VALGRIND_LOGS)
	ADAPTFS_BIN=$(CURDIR)/tests/valgrind-adaptfs ADAPTFS_VALGRIND_LOGS=$(VALGRIND_LOGS) \
	ADAPTFS_MOUNT_TIMEOUT=30 ADAPTFS_STOP_TIMEOUT=30 HOSTS_MOUNT_TIMEOUT=30 HOSTS_STOP_TIMEOUT=30 \
		bats --print-output-on-failure tests/bats/mount.bats tests/bats/control.bats tests/bats/group.bats \
		tests/bats/procwatch.bats tests/bats/mode.bats tests/bats/standby.bats tests/bats/migrate.bats
	@for f in $(VALGRIND_LOGS)/*.log; do \
		[ ! -s "$$f" ] || { echo "valgrind: $$f:"; cat "$$f"; exit 1; }; \
	done

adaptfs-asan adaptfs-tsan: $(CORE_OBJ) $(BUILD)/fs/main.o
	$(CC) $(CFLAGS) $(BUILD_CFLAGS) $(LDFLAGS) $^ -o $@ $(LDLIBS)

# The same bats files with the daemon under ThreadSanitizer (about 12
# minutes: not in CI). A race makes a daemon exit 66; the reports of those
# whose exit status no test waits for (lib/hosts.bash's) are in TSAN_LOGS,
# which must stay empty.
TSAN_FLAGS := -O1 -g -fsanitize=thread -fno-omit-frame-pointer
TSAN_LOGS := $(CURDIR)/build/tsan-logs
check-tsan:
	$(MAKE) BUILD=build-tsan CFLAGS="$(TSAN_FLAGS)" LDFLAGS=-fsanitize=thread adaptfs-tsan
	rm -rf $(TSAN_LOGS) && mkdir -p $(TSAN_LOGS)
	ADAPTFS_BIN=$(CURDIR)/adaptfs-tsan TSAN_OPTIONS=log_path=$(TSAN_LOGS)/adaptfs \
		bats --print-output-on-failure $(SANITIZE_BATS)
	@for f in $(TSAN_LOGS)/*; do \
		[ ! -s "$$f" ] || { echo "tsan: $$f:"; cat "$$f"; exit 1; }; \
	done

# libFuzzer over every parser of outside input (clang, libclang-rt-14-dev).
FUZZ_SECONDS ?= 300
FUZZ_FLAGS := -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
fuzz:
	$(MAKE) CC=clang BUILD=build-fuzz CFLAGS="$(FUZZ_FLAGS)" build-fuzz/fuzz_inputs
	mkdir -p build-fuzz/corpus
	printf '\000cpus=0-3 host=a\n' > build-fuzz/corpus/seed-placement
	printf '\001123 (CPU 0/TCG) R 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18\n' > build-fuzz/corpus/seed-stat
	printf '\003{"return": {}}\r\n' > build-fuzz/corpus/seed-qmp
	build-fuzz/fuzz_inputs -max_total_time=$(FUZZ_SECONDS) -max_len=8192 -timeout=5 \
		-rss_limit_mb=1024 build-fuzz/corpus

build-fuzz/fuzz_inputs: tests/fuzz/fuzz_inputs.c $(CORE_OBJ)
	$(CC) $(CFLAGS) $(BUILD_CFLAGS) -fsanitize=fuzzer $^ -o $@ $(LDLIBS)

bench: adaptfs
	QUICK=1 bash bench/latency/run.sh
	QUICK=1 bash bench/scale/run.sh

install: adaptfs adaptfs-migrate adapttop
	install -D -m 0755 adaptfs $(DESTDIR)$(SBINDIR)/adaptfs
	install -D -m 0755 adaptfs-migrate $(DESTDIR)$(SBINDIR)/adaptfs-migrate
	install -D -m 0644 man/adaptfs-migrate.8 $(DESTDIR)$(MANDIR)/man8/adaptfs-migrate.8
	install -D -m 0644 man/adaptfs.8 $(DESTDIR)$(MANDIR)/man8/adaptfs.8
	install -D -m 0644 man/adaptfs.5 $(DESTDIR)$(MANDIR)/man5/adaptfs.5
	install -D -m 0644 man/adaptfs.conf.5 $(DESTDIR)$(MANDIR)/man5/adaptfs.conf.5
	install -D -m 0644 man/adaptfs-workloads.5 $(DESTDIR)$(MANDIR)/man5/adaptfs-workloads.5
	install -D -m 0755 etc/adaptfs-mkinitrd $(DESTDIR)$(SBINDIR)/adaptfs-mkinitrd
	install -D -m 0644 man/adaptfs-mkinitrd.8 $(DESTDIR)$(MANDIR)/man8/adaptfs-mkinitrd.8
	install -D -m 0644 etc/adaptfs.conf $(DESTDIR)$(SYSCONFDIR)/adaptfs/adaptfs.conf.example
	install -D -m 0755 adapttop/adapttop $(DESTDIR)$(BINDIR)/adapttop
	install -D -m 0644 man/adapttop.1 $(DESTDIR)$(MANDIR)/man1/adapttop.1
	install -D -m 0644 etc/adaptfs.service $(DESTDIR)$(UNITDIR)/adaptfs.service
	sed -i 's|/usr/sbin/adaptfs|$(SBINDIR)/adaptfs|' $(DESTDIR)$(UNITDIR)/adaptfs.service
	install -D -m 0644 etc/adaptfs.tmpfiles $(DESTDIR)$(TMPFILESDIR)/adaptfs.conf
	install -D -m 0644 etc/prometheus/adaptfs.rules.yml $(DESTDIR)$(DATADIR)/adaptfs/prometheus/adaptfs.rules.yml

# Build and mount at $(MOUNTPOINT) as a background daemon (pid in /run/adaptfs.pid);
# a daemon that an earlier `make run` left is stopped first, by its pid.
run: all
	@if [ -r /run/adaptfs.pid ] && [ "$$(cat /proc/$$(cat /run/adaptfs.pid)/comm 2>/dev/null)" = adaptfs ]; then \
		echo "stopping the adaptfs of an earlier make run (pid $$(cat /run/adaptfs.pid))"; \
		pid=$$(cat /run/adaptfs.pid); kill $$pid; \
		for i in $$(seq 100); do [ -d /proc/$$pid ] || break; sleep 0.1; done; \
		[ ! -d /proc/$$pid ] || { echo "pid $$pid did not exit within 10 s of SIGTERM" >&2; exit 1; }; \
	fi
	mkdir -p $(MOUNTPOINT)
	./adaptfs --pidfile /run/adaptfs.pid $(MOUNTPOINT)
	@echo "adaptfs mounted at $(MOUNTPOINT); stop with: kill \$$(cat /run/adaptfs.pid)"

deps:
	sh tests/deps-install $(DEPS_RUN)

deps-test: deps
	sh tests/deps-install $(DEPS_TEST)

deps-bench: deps-test
	sh tests/deps-install $(DEPS_BENCH)

clean:
	rm -rf build build-asan build-tsan build-fuzz adaptfs adaptfs-asan adaptfs-tsan adaptfs-migrate

clean: clean-adapttop
clean-adapttop:
	rm -f adapttop/adapttop

.PHONY: all deps deps-test deps-bench adapttop clean-adapttop unit bats v2 test check-asan check-tsan check-valgrind bench install run clean

-include $(wildcard $(BUILD)/*/*.d $(BUILD)/*/*/*.d)
