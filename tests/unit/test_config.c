/* The configuration layer on its own: the key tables every device option
 * shares (the command-line grammar), and the one adder that owns the
 * limits, calls each type's duplicate checks and keeps the declaration
 * order (src/config/). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avp/config.h"
#include "avp/config/options.h"
#include "avp/devices/virtio_blk.h"
#include "avp/devices/virtio_console.h"
#include "avp/devices/virtio_gpu.h"
#include "avp/devices/virtio_input.h"
#include "avp/devices/virtio_net.h"
#include "avp/devices/virtio_rng.h"
#include "avp/devices/virtio_snd.h"
#include "avp/devices/virtio_vsock.h"
#include "support/config_helper.h"

/* A key of each kind the grammar has. */
struct splitter_opts {
	char *lead;
	bool ro;
	char *name;
	uint32_t n;
};
enum { K_LEAD, K_RO, K_NAME, K_N };
static const char *const rw_words[] = { "rw", "ro", NULL };
static const struct avp_key keys[] = {
	[K_LEAD] = { .name = "lead", .type = AVP_KEY_STRING,
		     .offset = offsetof(struct splitter_opts, lead), .flags = AVP_KEY_POSITIONAL },
	[K_RO] = { .name = "ro", .type = AVP_KEY_BOOL, .offset = offsetof(struct splitter_opts, ro),
		   .words = rw_words },
	[K_NAME] = { .name = "name", .type = AVP_KEY_STRING,
		     .offset = offsetof(struct splitter_opts, name) },
	[K_N] = { .name = "n", .type = AVP_KEY_UINT, .offset = offsetof(struct splitter_opts, n),
		  .min = 3, .max = 10 },
	{ 0 },
};
static const struct avp_config_type splitter_type = {
	.name = "splitter", .keys = keys, .opts_size = sizeof(struct splitter_opts), .max = 1,
};

static int split(const char *text, struct splitter_opts *o, uint32_t *given)
{
	memset(o, 0, sizeof(*o));
	return avp_opts_parse_text(&splitter_type, text, o, given);
}

static void test_splitter(void **state)
{
	struct splitter_opts o;
	uint32_t given;

	(void)state;
	assert_int_equal(split("a,,b=c,n=10,ro,name=x,,y,,", &o, &given), 0);
	assert_string_equal(o.lead, "a,b=c"); /* the lead may hold '=' and ',' */
	assert_true(o.ro);
	assert_string_equal(o.name, "x,y,");
	assert_int_equal(o.n, 10);
	assert_int_equal(given, AVP_KEY_BIT(K_LEAD) | AVP_KEY_BIT(K_RO) | AVP_KEY_BIT(K_NAME) |
					AVP_KEY_BIT(K_N));
	avp_opts_free(&splitter_type, &o);
	assert_null(o.lead);
	assert_int_equal(split("p", &o, &given), 0);
	assert_int_equal(given, AVP_KEY_BIT(K_LEAD));
	assert_false(o.ro || o.name || o.n);
	avp_opts_free(&splitter_type, &o);

	static const char *const bad[] = {
		"",	     ",",	 "p,",	       ",p",	     "p,,,",	  "p,ro,ro", "p,n=3,n=4",
		"p,n=2",     "p,n=11",	 "p,n=",       "p,n=+3",     "p,n= 3",	  "p,n=3x",  "p,name=",
		"p,ro,rw",   "p,nam=x",	 "p,name",     "p,N=3",	     "p,n=99999999999999999999",
		"p,ro=1",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (split(bad[i], &o, &given) != -EINVAL)
			fail_msg("accepted '%s'", bad[i]);
		avp_opts_free(&splitter_type, &o);
	}
}

/* A refusal: -EINVAL, a message containing want, and the key. */
static void refused(int ret, const struct avp_config_err *e, const char *want, const char *key)
{
	assert_int_equal(ret, -EINVAL);
	if (!strstr(e->text, want))
		fail_msg("'%s' does not say '%s'", e->text, want);
	if (key)
		assert_string_equal(e->key, key);
	else
		assert_null(e->key);
}

static void test_limits_and_duplicates(void **state)
{
	struct avp_config cfg;
	struct avp_config_err e = { 0 };
	char path[32];

	(void)state;
	avp_config_init(&cfg);
	for (int i = 0; i < AVP_MAX_DISKS; i++) {
		snprintf(path, sizeof(path), "d%d.img", i);
		test_add_device(&cfg, &virtio_blk_config, path);
	}
	refused(test_try_device(&cfg, &virtio_blk_config, "one-more.img", &e), &e, "at most 8 disks",
		NULL);
	avp_config_free(&cfg);

	avp_config_init(&cfg);
	test_add_device(&cfg, &virtio_blk_config, "a.img");
	refused(test_try_device(&cfg, &virtio_blk_config, "a.img", &e), &e,
		"\"a.img\" is already used by another disk", "path");
	assert_int_equal(avp_config_count(&cfg, &virtio_blk_config), 1);
	assert_int_equal(cfg.ndevices, 1);

	/* A refused device's strings are freed (the sanitizers see a leak). */
	refused(test_try_device(&cfg, &virtio_net_config, "tap=tap-name-far-too-long", &e), &e,
		"is not an interface name", "tap");
	test_add_device(&cfg, &virtio_net_config, "tap=t0");
	refused(test_try_device(&cfg, &virtio_net_config, "tap=t0", &e), &e,
		"tap \"t0\" is already used", "tap");

	test_add_device(&cfg, &virtio_rng_config, NULL);
	refused(test_try_device(&cfg, &virtio_rng_config, NULL, &e), &e, "only one rng device", NULL);

	const struct avp_gpu_cfg *g = test_add_device(&cfg, &virtio_gpu_config, "width=800");
	assert_int_equal(g->width, 800);
	assert_int_equal(g->height, VIRTIO_GPU_DEFAULT_HEIGHT); /* the one size rule */
	refused(test_try_device(&cfg, &virtio_gpu_config, "width=800", &e), &e, "only one gpu device",
		NULL);
	struct avp_gpu_cfg big = { .width = 4000, .height = 4000 };
	assert_int_equal(virtio_gpu_display_size(&big, &e), -EINVAL);

	const struct avp_input_cfg *in = test_add_device(&cfg, &virtio_input_config, "touch,height=600");
	assert_int_equal(in->width, AVP_TOUCH_DEFAULT_WIDTH);
	refused(test_try_device(&cfg, &virtio_input_config, "touch,height=600", &e), &e,
		"a second touch", "kind");
	refused(test_try_device(&cfg, &virtio_input_config, "keyboard,width=5", &e), &e,
		"for touch only", NULL);

	refused(test_try_device(&cfg, &virtio_snd_config, "out=x.wav,in=x.wav", &e), &e,
		"must be different files", NULL);

	/* A CID the grammar refuses; and one only the check sees. */
	assert_int_equal(test_try_device(&cfg, &virtio_vsock_config, "cid=2,socket=/v", &e), -EINVAL);
	struct avp_vsock_cfg *v = avp_opts_new(&virtio_vsock_config);
	*v = (struct avp_vsock_cfg){ .cid = 2, .socket = strdup("/v") };
	refused(avp_config_add_device(&cfg, &virtio_vsock_config, v, 0, &e), &e, "CID 2 is reserved",
		"cid");
	test_add_device(&cfg, &virtio_vsock_config, "cid=3,socket=/v");
	test_add_device(&cfg, &virtio_vsock_peer_config, "3:/p");
	refused(test_try_device(&cfg, &virtio_vsock_peer_config, "3:/q", &e), &e,
		"CID 3 is given twice", "cid");
	refused(avp_config_check(&cfg, &e), &e, "CID 3 is this VM's own", "vsock-peer");
	avp_config_free(&cfg);
}

/* The one chardev grammar (issue 13 item 14): pty and socket=PATH beside
 * stdio, none and file:PATH, for --serial, --console and bundles. */
static void test_chardev_grammar(void **state)
{
	struct avp_chardev_cfg c = { 0 };
	struct avp_config cfg;
	struct avp_config_err e = { 0 };

	(void)state;
	assert_int_equal(avp_parse_chardev("pty", NULL, &c), 0);
	assert_int_equal(c.kind, AVP_CHR_PTY);
	assert_null(c.path);
	assert_int_equal(avp_parse_chardev("socket=/run/s.sock", NULL, &c), 0);
	assert_int_equal(c.kind, AVP_CHR_SOCKET);
	assert_string_equal(c.path, "/run/s.sock");
	assert_int_equal(avp_parse_chardev("socket=s.sock", "/b", &c), 0);
	assert_string_equal(c.path, "/b/s.sock");
	assert_int_equal(avp_parse_chardev("file:x.log", NULL, &c), 0);
	assert_int_equal(c.kind, AVP_CHR_FILE);
	/* pty drops the old path */
	assert_int_equal(avp_parse_chardev("pty", NULL, &c), 0);
	assert_null(c.path);
	assert_int_equal(avp_parse_chardev("socket=", NULL, &c), -EINVAL);
	assert_int_equal(avp_parse_chardev("socket", NULL, &c), -EINVAL);
	assert_int_equal(avp_parse_chardev("socket:/x", NULL, &c), -EINVAL);
	assert_int_equal(avp_parse_chardev("ptyx", NULL, &c), -EINVAL);
	assert_int_equal(avp_parse_chardev("PTY", NULL, &c), -EINVAL);

	/* serial and console cannot share a socket */
	avp_config_init(&cfg);
	assert_int_equal(avp_parse_chardev("socket=/s", NULL, &cfg.serial), 0);
	test_add_device(&cfg, &virtio_console_config, "socket=/s");
	refused(avp_config_check(&cfg, &e), &e, "cannot listen on the same socket", "serial");
	avp_config_free(&cfg);
}

static void test_declaration_order(void **state)
{
	struct avp_config cfg;
	struct avp_config_err e = { 0 };
	struct avp_chardev_cfg c = { 0 };

	(void)state;
	avp_config_init(&cfg);
	test_add_device(&cfg, &virtio_rng_config, NULL);
	assert_int_equal(avp_parse_chardev("file:hvc0.log", "/b", &c), 0);
	assert_string_equal(c.path, "/b/hvc0.log"); /* relative to the bundle */
	free(c.path);
	test_add_device(&cfg, &virtio_console_config, "file:hvc0.log");
	test_add_device(&cfg, &virtio_blk_config, "a.img");
	assert_int_equal(cfg.ndevices, 3);
	assert_ptr_equal(cfg.devices[0].type, &virtio_rng_config);
	assert_ptr_equal(cfg.devices[1].type, &virtio_console_config);
	assert_ptr_equal(cfg.devices[2].type, &virtio_blk_config);
	/* --console none takes the console out, and its place. */
	avp_config_remove_devices(&cfg, &virtio_console_config);
	assert_int_equal(cfg.ndevices, 2);
	assert_ptr_equal(cfg.devices[1].type, &virtio_blk_config);
	assert_int_equal(avp_config_count(&cfg, &virtio_console_config), 0);
	/* and a console's "none" is no console at all */
	refused(test_try_device(&cfg, &virtio_console_config, "none", &e), &e,
		"a console device needs", "backend");
	avp_config_free(&cfg);

	/* All the windows there are, and no more. */
	avp_config_init(&cfg);
	for (int i = 0; i < AVP_MAX_DISKS; i++) {
		char path[16];

		snprintf(path, sizeof(path), "%d", i);
		test_add_device(&cfg, &virtio_blk_config, path);
	}
	for (int i = 0; i < AVP_MAX_NETS; i++) {
		char tap[16];

		snprintf(tap, sizeof(tap), "tap=t%d", i);
		test_add_device(&cfg, &virtio_net_config, tap);
	}
	test_add_device(&cfg, &virtio_rng_config, NULL);
	test_add_device(&cfg, &virtio_input_config, "keyboard");
	test_add_device(&cfg, &virtio_input_config, "touch");
	test_add_device(&cfg, &virtio_gpu_config, "on");
	assert_int_equal(cfg.ndevices, AVP_MAX_DEVICES);
	refused(test_try_device(&cfg, &virtio_console_config, "stdio", &e), &e,
		"at most 16 VIRTIO devices", NULL);
	assert_int_equal(avp_config_count(&cfg, &virtio_console_config), 0);
	/* Vsock peers take no window. */
	test_add_device(&cfg, &virtio_vsock_peer_config, "4:/p");
	assert_int_equal(cfg.ndevices, AVP_MAX_DEVICES + 1);
	avp_config_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_splitter),
		cmocka_unit_test(test_limits_and_duplicates),
		cmocka_unit_test(test_chardev_grammar),
		cmocka_unit_test(test_declaration_order),
	};

	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
