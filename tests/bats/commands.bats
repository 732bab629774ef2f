#!/usr/bin/env bats
# Every external command that the tests, benches, examples and install
# scripts call comes from a Debian package that a fresh Debian 12 has or that
# the Makefile's DEPS_RUN, DEPS_TEST or DEPS_BENCH installs
# (tests/commands.tsv says which); awk programs run under mawk; the Python
# that scripts run imports only what Debian's python3 has.

bats_load_library bats-support
bats_load_library bats-assert

PY=/usr/bin/python3
CHECK=$BATS_TEST_DIRNAME/../commands.py
FIXTURE=$BATS_TEST_DIRNAME/../fixtures/commands/calls.sh

@test "the scanner finds the command in every position a script can call one" {
	run "$PY" "$CHECK" scan "$FIXTURE"
	assert_success
	found=$(cut -d' ' -f2- <<<"$output" | sort -u | tr '\n' ' ')
	assert_equal "$found" "awk awk-gawk-only:a {n} interval in a regex bash cat frobnicate-a frobnicate-b frobnicate-c frobnicate-d frobnicate-e frobnicate-f frobnicate-g ip timeout tr "
}

@test "a command that no listed package provides fails the check, with its line" {
	[[ -n ${DEPS_PKGS:-} ]] || skip "DEPS_PKGS unset: run through make bats"
	run "$PY" "$CHECK" check "$FIXTURE"
	assert_failure
	assert_line --partial "calls.sh:4: calls 'frobnicate-a': not in tests/commands.tsv"
	assert_line --partial "calls.sh:18: awk program uses a {n} interval in a regex"
}

@test "every command the project's scripts call comes from a listed Debian package" {
	[[ -n ${DEPS_PKGS:-} ]] || skip "DEPS_PKGS unset: run through make bats"
	run "$PY" "$CHECK" check
	assert_success
}
