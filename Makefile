# adaptfs — make | make test | make check-asan | make bench | make install | make run
PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
UNITDIR ?= /lib/systemd/system
TMPFILESDIR ?= /usr/lib/tmpfiles.d
DESTDIR ?=
MOUNTPOINT ?= /adapt
VERSION := 0.1

PKGS := fuse3 inih jansson liburing

# Debian packages to build, test and benchmark (make deps installs them).
DEB_PKGS := build-essential pkg-config fuse3 libfuse3-dev libinih-dev libjansson-dev liburing-dev \
	    libcmocka-dev clang libclang-rt-14-dev libxen-dev libsystemd-dev bats bats-assert bats-support inotify-tools man-db valgrind strace \
	    lxc lxc-templates busybox-static runc criu jq iproute2 procps util-linux \
	    stress-ng nginx-light wrk prometheus lxcfs python3 rsync \
	    libncurses-dev tmux debhelper prometheus-node-exporter curl collectd-core gnuplot-nox \
	    qemu-system-x86 linux-image-amd64 cpio xz-utils libvirt-daemon-system
CC ?= cc
CFLAGS ?= -O2 -g
BUILD_CFLAGS := -std=gnu11 -Wall -Wextra -D_GNU_SOURCE -DADAPTFS_VERSION='"$(VERSION)"' \
	  -Ilib -Icollectors -Iactuators -Ifs $(shell pkg-config --cflags $(PKGS))
LDLIBS += $(shell pkg-config --libs $(PKGS)) -lpthread

# The Xen backend is built where libxenstat is (Debian: libxen-dev).
HAVE_XENSTAT := $(shell pkg-config --exists xenstat && echo 1)
ifeq ($(HAVE_XENSTAT),1)
PKGS += xenstat
BUILD_CFLAGS += -DHAVE_XENSTAT
endif

# sd_notify(READY=1) for systemd Type=notify where libsystemd is (Debian: libsystemd-dev).
ifeq ($(shell pkg-config --exists libsystemd && echo 1),1)
PKGS += libsystemd
BUILD_CFLAGS += -DHAVE_SYSTEMD
endif

LIB_SRC := $(wildcard lib/*.c)
COLLECTOR_SRC := $(filter-out $(if $(HAVE_XENSTAT),,collectors/xen.c),$(wildcard collectors/*.c))
ACTUATOR_SRC := $(wildcard actuators/*.c)
FS_SRC := $(filter-out fs/main.c,$(wildcard fs/*.c))
CORE_SRC := $(LIB_SRC) $(COLLECTOR_SRC) $(ACTUATOR_SRC) $(FS_SRC)

BUILD ?= build
CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/%.o)

all: adaptfs adaptfs-migrate adapttop

$(BUILD)/%.o: %.c $(wildcard lib/*.h collectors/*.h actuators/*.h fs/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(BUILD_CFLAGS) -c $< -o $@

adaptfs: $(CORE_OBJ) $(BUILD)/fs/main.o
	$(CC) $(CFLAGS) $(BUILD_CFLAGS) $^ -o $@ $(LDLIBS)

# adaptfs-migrate(8): the destination end of a migration, run on peers.
RECEIVE_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(wildcard actuators/receive/*.c))
$(RECEIVE_OBJ): $(wildcard actuators/receive/*.h)

adaptfs-migrate: $(RECEIVE_OBJ) $(CORE_OBJ)
	$(CC) $(CFLAGS) $(BUILD_CFLAGS) $^ -o $@ $(LDLIBS)

# adapttop(1): a curses viewer, a client of the mounted files (binary adapttop/adapttop).
BINDIR ?= $(PREFIX)/bin
ADAPTTOP_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(wildcard adapttop/*.c))
$(ADAPTTOP_OBJ): BUILD_CFLAGS += $(shell pkg-config --cflags ncursesw)
$(ADAPTTOP_OBJ): $(wildcard adapttop/*.h)

adapttop: adapttop/adapttop

adapttop/adapttop: $(ADAPTTOP_OBJ) $(BUILD)/lib/util.o
	$(CC) $(CFLAGS) $^ -o $@ $(shell pkg-config --libs ncursesw) -lpthread -lm

# Unit tests (cmocka): each tests/unit/test_*.c links against the core objects.
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

$(BUILD)/tests/%: tests/unit/%.c $(CORE_OBJ) $(wildcard tests/unit/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(BUILD_CFLAGS) -DFIXTURES='"$(CURDIR)/tests/fixtures"' $< $(CORE_OBJ) -o $@ $(LDLIBS) -lcmocka

unit: $(UNIT_BIN)
	@for t in $(UNIT_BIN); do echo "== $$t"; $$t || exit 1; done

BATS_FILES ?= tests/bats
bats: adaptfs
	bats --print-output-on-failure $(BATS_FILES)

test: unit bats

# Unit tests and the daemon's bats files under ASan + UBSan (a report aborts
# the daemon or fails its exit status, so a test fails). SANITIZE_BATS picks
# the bats files that drive the daemon's code paths.
SAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
SANITIZE_BATS ?= tests/bats/mount.bats tests/bats/workloads.bats tests/bats/control.bats \
		 tests/bats/prefetch.bats tests/bats/daemon.bats tests/bats/group.bats tests/bats/hosts.bats \
		 tests/bats/scope.bats tests/bats/migrate.bats tests/bats/uring.bats \
		 tests/bats/procwatch.bats tests/bats/freshness.bats tests/bats/follow.bats
check-asan:
	$(MAKE) BUILD=build-asan CFLAGS="$(SAN_FLAGS)" unit adaptfs-asan
	ADAPTFS_BIN=$(CURDIR)/adaptfs-asan ASAN_OPTIONS=detect_leaks=1 \
		bats --print-output-on-failure $(SANITIZE_BATS)

# The daemon under valgrind (slow: a few minutes). Not uring.bats: valgrind
# 3.19 keeps its lock while a thread waits in io_uring_enter(2), which
# freezes every other thread (ASan covers fs/uring.c in check-asan).
check-valgrind: adaptfs
	ADAPTFS_BIN=$(CURDIR)/tests/valgrind-adaptfs ADAPTFS_MOUNT_TIMEOUT=30 ADAPTFS_STOP_TIMEOUT=30 \
		bats --print-output-on-failure tests/bats/mount.bats tests/bats/control.bats tests/bats/group.bats \
		tests/bats/procwatch.bats

adaptfs-asan: $(CORE_OBJ) $(BUILD)/fs/main.o
	$(CC) $(CFLAGS) $(BUILD_CFLAGS) $^ -o $@ $(LDLIBS)

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

# Build and mount at $(MOUNTPOINT) as a background daemon (pid in /run/adaptfs.pid).
run: adaptfs
	mkdir -p $(MOUNTPOINT)
	./adaptfs --pidfile /run/adaptfs.pid $(MOUNTPOINT)
	@echo "adaptfs mounted at $(MOUNTPOINT); stop with: kill \$$(cat /run/adaptfs.pid)"

deps:
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(DEB_PKGS)

clean:
	rm -rf build build-asan build-fuzz adaptfs adaptfs-asan adaptfs-migrate

clean: clean-adapttop
clean-adapttop:
	rm -f adapttop/adapttop

.PHONY: all deps adapttop clean-adapttop unit bats test check-asan bench install run clean
