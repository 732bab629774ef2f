#!/bin/sh
# README's two commands on Debian 12, from a root shell (no sudo, no make
# needed) or as a sudo user:
#   sh setup.sh        install DEPS_RUN, build, mount adaptfs at /adapt
#   sh setup.sh test   install DEPS_TEST too, build everything, run every test
# Both need root: apt-get installs, FUSE mounts and the tests drive cgroups.
set -eu

if [ "$(id -u)" -ne 0 ]; then
	if ! command -v sudo >/dev/null 2>&1; then
		echo "setup.sh: needs root: run it in a root shell (sudo is not installed)" >&2
		exit 1
	fi
	exec sudo sh "$0" "$@"
fi
cd "$(dirname "$0")"

# make is Priority: optional, so a minimal Debian lacks it; the Makefile's
# deps targets install the rest.
if ! command -v make >/dev/null 2>&1; then
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends make
fi

case ${1:-run} in
run)	exec make deps run ;;
test)	exec make deps-test test ;;
*)	echo "usage: sh setup.sh [run|test]" >&2
	exit 2 ;;
esac
