/* Which containers talk: the proc/net parsers and the grouping. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "links.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

static struct link_addr a4(const char *s)
{
	struct link_addr a = { .b = { [10] = 0xff, [11] = 0xff } };

	assert_int_equal(inet_pton(AF_INET, s, a.b + 12), 1);
	return a;
}

static bool contains(const struct link_addrs *l, struct link_addr a)
{
	for (size_t i = 0; i < l->n; i++)
		if (memcmp(&l->v[i], &a, sizeof a) == 0)
			return true;
	return false;
}

static const char tcp[] =
	"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
	/* listening on 0.0.0.0:80 */
	"   0: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1065 1 0 100 0 0 10 0\n"
	/* 10.233.0.151:80 <- 10.233.0.152:40000, TIME_WAIT */
	"   1: 9700E90A:0050 9800E90A:9C40 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0\n"
	/* established to 10.233.0.1:22 */
	"   2: 9700E90A:8000 0100E90A:0016 01 00000000:00000000 00:00000000 00000000     0        0 1 1 0 20 4 30 10 -1\n"
	/* SYN_SENT to 10.233.0.9: not talking yet */
	"   3: 9700E90A:8001 0900E90A:0016 02 00000000:00000000 00:00000000 00000000     0        0 1 1 0 20 4 30 10 -1\n"
	/* loopback */
	"   4: 0100007F:8002 0100007F:0050 01 00000000:00000000 00:00000000 00000000     0        0 1 1 0 20 4 30 10 -1\n";

static void tcp_keeps_established_and_time_wait_peers(void **state)
{
	struct link_addrs r = {0};

	(void)state;
	assert_int_equal(links_parse_tcp(tcp, false, &r), 0);
	assert_int_equal(r.n, 2);
	assert_true(contains(&r, a4("10.233.0.152")));
	assert_true(contains(&r, a4("10.233.0.1")));
	link_addrs_free(&r);
}

static void tcp6_reads_mapped_and_native_addresses(void **state)
{
	static const char text[] =
		"  sl  local_address                         remote_address                        st\n"
		"   0: 0000000000000000FFFF00009700E90A:0050 0000000000000000FFFF00009800E90A:9C40 01 0\n"
		"   1: 000080FE00000000FF00FC00010000FE:0050 000080FE00000000FF00FC00020000FE:9C40 01 0\n"
		"   2: 00000000000000000000000001000000:0050 00000000000000000000000001000000:9C41 01 0\n";
	struct link_addrs r = {0};
	struct link_addr ll = { .b = { 0xfe, 0x80, [8] = 0, [9] = 0xfc, [10] = 0, [11] = 0xff,
				       [12] = 0xfe, [13] = 0, [14] = 0, [15] = 0x02 } };

	(void)state;
	assert_int_equal(links_parse_tcp(text, true, &r), 0);
	assert_int_equal(r.n, 2);
	assert_true(contains(&r, a4("10.233.0.152")));
	assert_true(contains(&r, ll));
	link_addrs_free(&r);
}

static void malformed_lines_are_errors(void **state)
{
	static const char *const bad[] = {
		"header\n   0: 9700E90A:0050 9800E90:9C40 01\n",
		"header\n   0: 9700E90A:0050 9800E90A9C40 01\n",
		"header\n   0: 9700E90A:0050\n",
		"header\n   0: 9700E90A:0050 XX00E90A:9C40 01\n",
	};

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct link_addrs r = {0};

		assert_int_equal(links_parse_tcp(bad[i], false, &r), -EINVAL);
		link_addrs_free(&r);
	}
}

static void fib_trie_gives_local_addresses_without_loopback(void **state)
{
	static const char text[] =
		"Main:\n"
		"  +-- 0.0.0.0/0 3 0 5\n"
		"     +-- 10.233.0.0/24 2 0 2\n"
		"        |-- 10.233.0.0\n"
		"           /24 link UNICAST\n"
		"        |-- 10.233.0.151\n"
		"           /32 host LOCAL\n"
		"     +-- 127.0.0.0/8 2 0 2\n"
		"           |-- 127.0.0.1\n"
		"              /32 host LOCAL\n"
		"        |-- 10.233.0.255\n"
		"           /32 link BROADCAST\n"
		"Local:\n"
		"        |-- 10.233.0.151\n"
		"           /32 host LOCAL\n";
	static const char inet6[] =
		"fe8000000000000000fc00fffe000001 04 40 20 80     eth0\n"
		"00000000000000000000000000000001 01 80 10 80       lo\n";
	struct link_addrs l = {0};

	(void)state;
	assert_int_equal(links_parse_fib_trie(text, &l), 0);
	assert_int_equal(l.n, 1);
	assert_true(contains(&l, a4("10.233.0.151")));
	assert_int_equal(links_parse_if_inet6(inet6, &l), 0);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.v[1].b[0], 0xfe);
	link_addrs_free(&l);
}

static void talking_workloads_form_groups(void **state)
{
	/* 0 client of 1; 2 alone; 3 client of 4, 4 client of 1: one group 0 1 3 4 */
	struct link_addrs local[5] = {0}, remote[5] = {0};
	struct link_addr addr[5];
	struct link_addr outside = a4("192.0.2.1");
	int group[5];

	(void)state;
	for (int i = 0; i < 5; i++) {
		char s[32];

		snprintf(s, sizeof s, "10.233.0.%d", 150 + i);
		addr[i] = a4(s);
		local[i] = (struct link_addrs){ .v = &addr[i], .n = 1, .cap = 1 };
	}
	remote[0] = (struct link_addrs){ .v = &addr[1], .n = 1 };
	remote[2] = (struct link_addrs){ .v = &outside, .n = 1 };
	remote[3] = (struct link_addrs){ .v = &addr[4], .n = 1 };
	remote[4] = (struct link_addrs){ .v = &addr[1], .n = 1 };
	links_group(5, local, remote, group);
	assert_int_equal(group[0], 0);
	assert_int_equal(group[1], 0);
	assert_int_equal(group[2], -1);
	assert_int_equal(group[3], 0);
	assert_int_equal(group[4], 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(tcp_keeps_established_and_time_wait_peers),
		cmocka_unit_test(tcp6_reads_mapped_and_native_addresses),
		cmocka_unit_test(malformed_lines_are_errors),
		cmocka_unit_test(fib_trie_gives_local_addresses_without_loopback),
		cmocka_unit_test(talking_workloads_form_groups),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
