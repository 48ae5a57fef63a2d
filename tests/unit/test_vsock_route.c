/* The vsock route table and the host-side protocol lines of routed
 * streams (avp/devices/vsock_route.h): what is accepted, what is refused,
 * and that the line one avp writes is the line the other parses. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "avp/devices/virtio_vsock.h"
#include "avp/devices/vsock_route.h"

static int init(struct vsock_routes *r, uint32_t own, const struct avp_vsock_peer *peers,
		unsigned int n, char *why, size_t len)
{
	struct avp_vsock_cfg cfg = { .cid = own, .socket = "/run/own.sock", .npeers = n };

	for (unsigned int i = 0; i < n; i++)
		cfg.peers[i] = peers[i];
	why[0] = '\0';
	return vsock_routes_init(r, &cfg, why, len);
}

static void test_lookup(void **state)
{
	struct avp_vsock_peer peers[] = { { 4, "/run/b.sock" }, { 4294967294u, "/run/z.sock" } };
	struct vsock_routes r;
	char why[160];

	(void)state;
	assert_int_equal(init(&r, 3, peers, 2, why, sizeof(why)), 0);
	assert_int_equal(r.n, 2);
	assert_string_equal(vsock_route_lookup(&r, 4), "/run/b.sock");
	assert_ptr_not_equal(vsock_route_lookup(&r, 4), peers[0].socket); /* a copy */
	assert_string_equal(vsock_route_lookup(&r, 4294967294u), "/run/z.sock");
	assert_null(vsock_route_lookup(&r, 2));
	assert_null(vsock_route_lookup(&r, 3));
	assert_null(vsock_route_lookup(&r, 5));
	/* 64-bit CIDs from the wire never alias a 32-bit one */
	assert_null(vsock_route_lookup(&r, (1ull << 32) | 4));
	vsock_routes_free(&r);
	assert_int_equal(r.n, 0);

	/* no peers: nothing routed */
	assert_int_equal(init(&r, 3, NULL, 0, why, sizeof(why)), 0);
	assert_null(vsock_route_lookup(&r, 4));
	vsock_routes_free(&r);
}

static void test_bad_tables(void **state)
{
	char long_path[200];
	struct {
		struct avp_vsock_peer p[2];
		unsigned int n;
		const char *why;
	} bad[] = {
		{ { { 3, "/a" } }, 1, "peer CID 3 is this VM's own CID" },
		{ { { 2, "/a" } }, 1, "peer CID 2: expected 3-4294967294" },
		{ { { 0xffffffffu, "/a" } }, 1, "peer CID 4294967295: expected" },
		{ { { 4, "/a" }, { 4, "/b" } }, 2, "peer CID 4 is given twice" },
		{ { { 4, "" } }, 1, "peer CID 4: socket path empty or longer than 107" },
		{ { { 4, NULL } }, 1, "peer CID 4: socket path empty" },
		{ { { 4, long_path } }, 1, "longer than 107 bytes" },
	};
	struct vsock_routes r;
	char why[160];

	(void)state;
	memset(long_path, 'x', sizeof(long_path) - 1);
	long_path[0] = '/';
	long_path[sizeof(long_path) - 1] = '\0';
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int ret = init(&r, 3, bad[i].p, bad[i].n, why, sizeof(why));

		if (ret != -EINVAL || !strstr(why, bad[i].why))
			fail_msg("table %zu: expected -EINVAL '%s', got %d '%s'", i, bad[i].why, ret,
				 why);
		assert_int_equal(r.n, 0); /* nothing left to free */
	}
}

/* Issue 13: sockets that collide with this VM's or with each other
 * (vsock_paths.h) are refused at start-up, with the reason. */
static void expect_collision(const char *own, const struct avp_vsock_peer *peers, unsigned int n)
{
	char own_copy[128];
	struct avp_vsock_cfg cfg = { .cid = 3, .socket = own_copy, .npeers = n };
	struct vsock_routes r;
	char why[512] = "";

	snprintf(own_copy, sizeof(own_copy), "%s", own);
	for (unsigned int i = 0; i < n; i++)
		cfg.peers[i] = peers[i];
	assert_int_equal(vsock_routes_init(&r, &cfg, why, sizeof(why)), -EINVAL);
	if (!strstr(why, "collide"))
		fail_msg("own %s: the reason does not say what collides: '%s'", own, why);
	assert_int_equal(r.n, 0);
}

static void test_colliding_sockets(void **state)
{
	struct avp_vsock_peer port_of_own[] = { { 4, "/run/own.sock_22" } };
	struct avp_vsock_peer own_is_port[] = { { 4, "/run/b.sock" } };
	struct avp_vsock_peer same[] = { { 4, "/run//own.sock" } };
	struct avp_vsock_peer peers_collide[] = { { 4, "/run/b.sock" }, { 5, "/run/b.sock_1" } };
	struct avp_vsock_peer fine[] = { { 4, "/run/b.sock" }, { 5, "/run/b.sock-1" } };
	struct avp_vsock_cfg cfg = { .cid = 3, .socket = "/run/own.sock", .npeers = 2 };
	struct vsock_routes r;
	char why[512];

	(void)state;
	expect_collision("/run/own.sock", port_of_own, 1);
	expect_collision("/run/b.sock_5000", own_is_port, 1);
	expect_collision("/run/own.sock", same, 1);
	expect_collision("/run/own.sock", peers_collide, 2);
	cfg.peers[0] = fine[0];
	cfg.peers[1] = fine[1];
	assert_int_equal(vsock_routes_init(&r, &cfg, why, sizeof(why)), 0);
	vsock_routes_free(&r);
}

static void test_connect_lines(void **state)
{
	char buf[VSOCK_CONNECT_LINE_MAX];
	uint32_t port, from;
	uint16_t type;

	(void)state;
	/* what one avp writes, the other parses; the longest fits the limit */
	assert_int_equal(vsock_line_connect(buf, sizeof(buf), 4294967295u, 4294967294u,
					    VIRTIO_VSOCK_TYPE_SEQPACKET),
			 (int)strlen("CONNECT 4294967295 FROM 4294967294 SEQPACKET\n"));
	assert_string_equal(buf, "CONNECT 4294967295 FROM 4294967294 SEQPACKET\n");
	assert_true(strlen(buf) + 1 < VSOCK_CONNECT_LINE_MAX); /* a '\r' would fit too */
	assert_int_equal(vsock_parse_connect(buf, strlen(buf) - 1, &port, &from, &type), 0);
	assert_int_equal(port, 4294967295u);
	assert_int_equal(from, 4294967294u);
	assert_int_equal(type, VIRTIO_VSOCK_TYPE_SEQPACKET);
	assert_int_equal(vsock_line_connect(buf, sizeof(buf), 7, 3, VIRTIO_VSOCK_TYPE_STREAM), 24);
	assert_string_equal(buf, "CONNECT 7 FROM 3 STREAM\n");
	assert_int_equal(vsock_parse_connect(buf, strlen(buf) - 1, &port, &from, &type), 0);
	assert_int_equal(type, VIRTIO_VSOCK_TYPE_STREAM);
	assert_int_equal(vsock_line_connect(buf, sizeof(buf), 7, 3, 3), -EINVAL);
	assert_int_equal(vsock_line_connect(buf, sizeof(buf), 6000, 0, 0), 13);
	assert_string_equal(buf, "CONNECT 6000\n");
	assert_int_equal(vsock_line_connect(buf, 8, 6000, 3, VIRTIO_VSOCK_TYPE_STREAM), -ENOSPC);

	/* the plain form (host programs) is unchanged, and a stream */
	assert_int_equal(vsock_parse_connect("CONNECT 1234", 12, &port, &from, &type), 0);
	assert_int_equal(port, 1234);
	assert_int_equal(from, 0);
	assert_int_equal(type, VIRTIO_VSOCK_TYPE_STREAM);
	assert_int_equal(vsock_parse_connect("CONNECT 0\r", 10, &port, &from, &type), 0);
	assert_int_equal(port, 0);
	assert_int_equal(vsock_parse_connect("CONNECT 7 FROM 3 SEQPACKET\r", 27, &port, &from,
					     &type), 0);
	assert_int_equal(from, 3);
	assert_int_equal(type, VIRTIO_VSOCK_TYPE_SEQPACKET);
	/* an avp before issue 18 (bare bytes after OK): type 0, refused by
	 * the caller, which can first say whether the CID is linked at all */
	assert_int_equal(vsock_parse_connect("CONNECT 7 FROM 3", 16, &port, &from, &type), 0);
	assert_int_equal(from, 3);
	assert_int_equal(type, 0);

	{
		static const char *const bad[] = {
			"", "CONNECT", "CONNECT ", "connect 1", "CONNECT -1", "CONNECT +1",
			"CONNECT 4294967296", "CONNECT 12345678901", "CONNECT 1 ", "CONNECT 1x",
			"CONNECT 1 FROM", "CONNECT 1 FROM ", "CONNECT 1 FROM 2 STREAM",
			"CONNECT 1 FROM 0 STREAM", "CONNECT 1 FROM 4294967295 STREAM",
			"CONNECT 1 FROM 3 ", "CONNECT 1 FROM 3x STREAM",
			"CONNECT 1  FROM 3 STREAM", "CONNECT 1 from 3 STREAM",
			"CONNECT 1 FROM 00000000003x", "CONNECT 1 TO 3", "CONNECT 1\n",
			"CONNECT 1 FROM 3 stream", "CONNECT 1 FROM 3 DGRAM", "CONNECT 1 FROM 3  STREAM",
			"CONNECT 1 FROM 3 STREAM ", "CONNECT 1 FROM 3 SEQPACKETS", "CONNECT 1 STREAM",
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			port = from = 77;
			if (vsock_parse_connect(bad[i], strlen(bad[i]), &port, &from, &type) != -EINVAL)
				fail_msg("accepted '%s'", bad[i]);
			assert_int_equal(port, 77); /* untouched */
		}
	}
}

static void test_ok_lines(void **state)
{
	uint32_t port = 0;

	(void)state;
	assert_int_equal(vsock_parse_ok("OK 1073741824", 13, &port), 0);
	assert_int_equal(port, 1073741824u);
	assert_int_equal(vsock_parse_ok("OK 5\r", 5, &port), 0);
	assert_int_equal(port, 5);
	{
		static const char *const bad[] = {
			"", "OK", "OK ", "OK x", "OK 1 2", "ok 1", "OK -1", "OK 4294967296", "NO 1",
			"OK 1\r\r",
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			if (vsock_parse_ok(bad[i], strlen(bad[i]), &port) != -EINVAL)
				fail_msg("accepted '%s'", bad[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_bad_tables),
		cmocka_unit_test(test_colliding_sockets),
		cmocka_unit_test(test_connect_lines),
		cmocka_unit_test(test_ok_lines),
	};

	return cmocka_run_group_tests_name("vsock_route", tests, NULL, NULL);
}
