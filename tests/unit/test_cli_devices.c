/* The command line of the control socket, vsock and input devices:
 * --api-sock, --vsock cid=N,socket=PATH, --vsock-peer CID:PATH (the route
 * table), --input keyboard|touch[,...]. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avp/cli.h"
#include "avp/devices/virtio_input.h"
#include "avp/devices/virtio_vsock.h"
#include "support/config_helper.h"

/* One option text through its type's keys and the adder, on a fresh
 * config: 0 or -EINVAL. *cfg is left for the caller to look at and free. */
static int one(struct avp_config *cfg, const struct avp_config_type *t, const char *text)
{
	struct avp_config_err e;

	avp_config_init(cfg);
	return test_try_device(cfg, t, text, &e);
}

static void test_vsock_grammar(void **state)
{
	struct avp_config cfg;
	const struct avp_vsock_cfg *v;

	(void)state;
	assert_int_equal(one(&cfg, &virtio_vsock_config, "cid=3,socket=/tmp/v.sock"), 0);
	v = avp_config_device(&cfg, &virtio_vsock_config, 0);
	assert_int_equal(v->cid, 3);
	assert_string_equal(v->socket, "/tmp/v.sock");
	avp_config_free(&cfg);
	assert_int_equal(one(&cfg, &virtio_vsock_config, "socket=/x,cid=4294967294"), 0);
	v = avp_config_device(&cfg, &virtio_vsock_config, 0);
	assert_int_equal(v->cid, 4294967294u);
	assert_string_equal(v->socket, "/x");
	avp_config_free(&cfg);

	/* reserved CIDs, bad numbers, missing or repeated keys, junk */
	const char *bad[] = {
		"cid=2,socket=/x", "cid=0,socket=/x", "cid=4294967295,socket=/x",
		"cid=-3,socket=/x", "cid=3x,socket=/x", "cid=,socket=/x", "cid=3",
		"socket=/x", "cid=3,socket=", "cid=3,socket=/x,cid=4", "cid=3,socket=/x,mode=1",
		"", ",", "cid=+3,socket=/x", "cid= 3,socket=/x", "cid=3,,socket=/x", "cid=3,socket=/x,",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (one(&cfg, &virtio_vsock_config, bad[i]) != -EINVAL)
			fail_msg("accepted '%s'", bad[i]);
		assert_int_equal(cfg.ndevices, 0);
		avp_config_free(&cfg);
	}
}

static void test_vsock_peer_grammar(void **state)
{
	struct avp_config cfg;
	const struct avp_vsock_peer *p;

	(void)state;
	assert_int_equal(one(&cfg, &virtio_vsock_peer_config, "4:/run/b.sock"), 0);
	p = avp_config_device(&cfg, &virtio_vsock_peer_config, 0);
	assert_int_equal(p->cid, 4);
	assert_string_equal(p->socket, "/run/b.sock");
	avp_config_free(&cfg);
	/* the path is everything after the first ':' */
	assert_int_equal(one(&cfg, &virtio_vsock_peer_config, "4294967294:/a:b,c"), 0);
	p = avp_config_device(&cfg, &virtio_vsock_peer_config, 0);
	assert_int_equal(p->cid, 4294967294u);
	assert_string_equal(p->socket, "/a:b,c");
	avp_config_free(&cfg);

	const char *bad[] = {
		"", "4", "4:", ":/x", "2:/x", "0:/x", "4294967295:/x", "x:/x", "-4:/x", "+4:/x",
		" 4:/x", "4 :/x", "99999999999999999:/x", "cid=4:/x",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (one(&cfg, &virtio_vsock_peer_config, bad[i]) != -EINVAL)
			fail_msg("accepted '%s'", bad[i]);
		assert_int_equal(cfg.ndevices, 0);
		avp_config_free(&cfg);
	}
}

static void test_input_grammar(void **state)
{
	struct avp_config cfg;
	const struct avp_input_cfg *in;

	(void)state;
	assert_int_equal(one(&cfg, &virtio_input_config, "keyboard"), 0);
	in = avp_config_device(&cfg, &virtio_input_config, 0);
	assert_int_equal(in->kind, AVP_INPUT_KEYBOARD);
	avp_config_free(&cfg);
	assert_int_equal(one(&cfg, &virtio_input_config, "touch"), 0);
	in = avp_config_device(&cfg, &virtio_input_config, 0);
	assert_int_equal(in->kind, AVP_INPUT_TOUCH);
	assert_int_equal(in->width, 1280);
	assert_int_equal(in->height, 720);
	avp_config_free(&cfg);
	assert_int_equal(one(&cfg, &virtio_input_config, "touch,width=800,height=480"), 0);
	in = avp_config_device(&cfg, &virtio_input_config, 0);
	assert_int_equal(in->width, 800);
	assert_int_equal(in->height, 480);
	avp_config_free(&cfg);
	assert_int_equal(one(&cfg, &virtio_input_config, "touch,height=1"), 0);
	in = avp_config_device(&cfg, &virtio_input_config, 0);
	assert_int_equal(in->height, 1);
	avp_config_free(&cfg);

	const char *bad[] = {
		"", "mouse", "keyboard,width=10", "touch,width=0", "touch,width=65536",
		"touch,width=-1", "touch,depth=3", "touch,width=", "Keyboard", "touch,",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (one(&cfg, &virtio_input_config, bad[i]) != -EINVAL)
			fail_msg("accepted '%s'", bad[i]);
		avp_config_free(&cfg);
	}
}

static int parse(char **argv, int argc, struct avp_config *cfg, char *err, size_t errlen)
{
	FILE *e = fmemopen(err, errlen, "w");
	int ret;

	avp_config_init(cfg);
	ret = cli_parse(argc, argv, cfg, e);
	fclose(e);
	return ret;
}

static void test_run_options(void **state)
{
	struct avp_config cfg;
	char err[256];
	char *ok[] = { "avp", "run", "--kernel", "k", "--api-sock", "/tmp/a.sock",
		       "--vsock", "cid=7,socket=/tmp/v.sock", "--input", "keyboard",
		       "--input", "touch,width=640,height=480" };
	char *dup_input[] = { "avp", "run", "--kernel", "k", "--input", "keyboard",
			      "--input", "keyboard" };
	char *two_vsock[] = { "avp", "run", "--kernel", "k", "--vsock", "cid=3,socket=/a",
			      "--vsock", "cid=4,socket=/b" };
	char *bad_vsock[] = { "avp", "run", "--kernel", "k", "--vsock", "cid=1,socket=/a" };
	char *empty_sock[] = { "avp", "run", "--kernel", "k", "--api-sock", "" };
	char *peers[] = { "avp", "run", "--vsock-peer", "5:/run/c.sock", "--kernel", "k",
			  "--vsock", "cid=3,socket=/a", "--vsock-peer", "4:/run/b.sock" };
	char *peer_no_vsock[] = { "avp", "run", "--kernel", "k", "--vsock-peer", "4:/b" };
	char *peer_own[] = { "avp", "run", "--kernel", "k", "--vsock", "cid=4,socket=/a",
			     "--vsock-peer", "4:/b" };
	char *peer_twice[] = { "avp", "run", "--kernel", "k", "--vsock", "cid=3,socket=/a",
			       "--vsock-peer", "4:/b", "--vsock-peer", "4:/c" };
	char *peer_bad[] = { "avp", "run", "--kernel", "k", "--vsock", "cid=3,socket=/a",
			     "--vsock-peer", "2:/b" };
	char *many[8 + 2 * (AVP_VSOCK_MAX_PEERS + 1)] = { "avp", "run", "--kernel", "k", "--vsock",
							   "cid=3,socket=/a" };
	char many_args[AVP_VSOCK_MAX_PEERS + 1][32];
	const struct avp_vsock_cfg *vsock;
	const struct avp_input_cfg *input;
	const struct avp_vsock_peer *peer;

	(void)state;
	memset(err, 0, sizeof(err));
	assert_int_equal(parse(ok, 12, &cfg, err, sizeof(err)), CLI_RUN);
	assert_string_equal(cfg.api_sock, "/tmp/a.sock");
	vsock = avp_config_device(&cfg, &virtio_vsock_config, 0);
	assert_int_equal(vsock->cid, 7);
	assert_string_equal(vsock->socket, "/tmp/v.sock");
	assert_int_equal(avp_config_count(&cfg, &virtio_input_config), 2);
	input = avp_config_device(&cfg, &virtio_input_config, 0);
	assert_int_equal(input->kind, AVP_INPUT_KEYBOARD);
	input = avp_config_device(&cfg, &virtio_input_config, 1);
	assert_int_equal(input->kind, AVP_INPUT_TOUCH);
	assert_int_equal(input->width, 640);
	avp_config_free(&cfg);

	assert_int_equal(parse(dup_input, 8, &cfg, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "--input"));
	avp_config_free(&cfg);
	assert_int_equal(parse(two_vsock, 8, &cfg, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "at most one"));
	avp_config_free(&cfg);
	assert_int_equal(parse(bad_vsock, 6, &cfg, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "cid=N,socket=PATH"));
	avp_config_free(&cfg);
	assert_int_equal(parse(empty_sock, 6, &cfg, err, sizeof(err)), -EINVAL);
	avp_config_free(&cfg);

	/* peers: in any order relative to --vsock, kept in order */
	assert_int_equal(parse(peers, 10, &cfg, err, sizeof(err)), CLI_RUN);
	assert_int_equal(avp_config_count(&cfg, &virtio_vsock_peer_config), 2);
	peer = avp_config_device(&cfg, &virtio_vsock_peer_config, 0);
	assert_int_equal(peer->cid, 5);
	assert_string_equal(peer->socket, "/run/c.sock");
	peer = avp_config_device(&cfg, &virtio_vsock_peer_config, 1);
	assert_int_equal(peer->cid, 4);
	assert_string_equal(peer->socket, "/run/b.sock");
	avp_config_free(&cfg);
	assert_int_equal(parse(peer_no_vsock, 6, &cfg, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "--vsock-peer needs a vsock device"));
	avp_config_free(&cfg);
	assert_int_equal(parse(peer_own, 8, &cfg, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "CID 4 is this VM's own"));
	avp_config_free(&cfg);
	assert_int_equal(parse(peer_twice, 10, &cfg, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "CID 4 is given twice"));
	avp_config_free(&cfg);
	assert_int_equal(parse(peer_bad, 8, &cfg, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "expected CID:PATH"));
	avp_config_free(&cfg);
	for (int i = 0; i <= AVP_VSOCK_MAX_PEERS; i++) {
		snprintf(many_args[i], sizeof(many_args[i]), "%d:/p%d", 10 + i, i);
		many[6 + 2 * i] = "--vsock-peer";
		many[7 + 2 * i] = many_args[i];
	}
	assert_int_equal(parse(many, 6 + 2 * AVP_VSOCK_MAX_PEERS, &cfg, err, sizeof(err)), CLI_RUN);
	assert_int_equal(avp_config_count(&cfg, &virtio_vsock_peer_config), AVP_VSOCK_MAX_PEERS);
	avp_config_free(&cfg);
	assert_int_equal(parse(many, 8 + 2 * AVP_VSOCK_MAX_PEERS, &cfg, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "at most 16 peers"));
	avp_config_free(&cfg);
}

static void test_help_mentions_options(void **state)
{
	char buf[8192];
	FILE *out = fmemopen(buf, sizeof(buf), "w");

	(void)state;
	memset(buf, 0, sizeof(buf));
	cli_run_usage(out);
	fclose(out);
	assert_non_null(strstr(buf, "--api-sock PATH"));
	assert_non_null(strstr(buf, "--vsock cid=N,socket=PATH"));
	assert_non_null(strstr(buf, "--vsock-peer CID:PATH"));
	assert_non_null(strstr(buf, "--input keyboard"));
	out = fmemopen(buf, sizeof(buf), "w");
	cli_usage(out);
	fclose(out);
	assert_non_null(strstr(buf, "  api "));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vsock_grammar),
		cmocka_unit_test(test_vsock_peer_grammar),
		cmocka_unit_test(test_input_grammar),
		cmocka_unit_test(test_run_options),
		cmocka_unit_test(test_help_mentions_options),
	};

	return cmocka_run_group_tests_name("cli_devices", tests, NULL, NULL);
}
