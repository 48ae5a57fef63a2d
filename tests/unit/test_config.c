/* The configuration layer on its own: the option splitter every device
 * option shares, and the adders that own the limits, the duplicate checks
 * and the declaration order (src/config/). */
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

enum { K_LEAD, K_WORD, K_STR, K_NUM };
static const struct avp_opt_key keys[] = {
	[K_LEAD] = { "lead", AVP_OPT_LEAD, 0, 0 },
	[K_WORD] = { "ro", AVP_OPT_WORD, 0, 0 },
	[K_STR] = { "name", AVP_OPT_STR, 0, 0 },
	[K_NUM] = { "n", AVP_OPT_U32, 3, 10 },
	{ NULL, 0, 0, 0 },
};

static void test_splitter(void **state)
{
	struct avp_opts o;

	(void)state;
	assert_int_equal(avp_opts_parse(&o, "a,,b=c,n=10,ro,name=x,,y,,", keys), 0);
	assert_string_equal(o.v[K_LEAD].str, "a,b=c"); /* the lead may hold '=' and ',' */
	assert_true(o.v[K_WORD].set);
	assert_string_equal(o.v[K_STR].str, "x,y,");
	assert_int_equal(o.v[K_NUM].u32, 10);
	avp_opts_free(&o);
	assert_int_equal(avp_opts_parse(&o, "p", keys), 0);
	assert_false(o.v[K_WORD].set || o.v[K_STR].set || o.v[K_NUM].set);
	avp_opts_free(&o);

	static const char *const bad[] = {
		"",	     ",",	 "p,",	       ",p",	     "p,,,",	  "p,ro,ro", "p,n=3,n=4",
		"p,n=2",     "p,n=11",	 "p,n=",       "p,n=+3",     "p,n= 3",	  "p,n=3x",  "p,name=",
		"p,rw",	     "p,nam=x",	 "p,name",     "p,N=3",	     "p,n=99999999999999999999",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (avp_opts_parse(&o, bad[i], keys) != -EINVAL)
			fail_msg("accepted '%s'", bad[i]);
		avp_opts_free(&o);
	}
}

/* An adder's refusal: -EINVAL, a message containing want, and the key. */
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

static int add_disk(struct avp_config *cfg, const char *path, struct avp_config_err *e)
{
	struct avp_disk_cfg d = { .path = strdup(path) };

	return avp_config_add_disk(cfg, &d, e);
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
		assert_int_equal(add_disk(&cfg, path, &e), 0);
	}
	refused(add_disk(&cfg, "one-more.img", &e), &e, "at most 8 disks", NULL);
	avp_config_free(&cfg);

	avp_config_init(&cfg);
	assert_int_equal(add_disk(&cfg, "a.img", &e), 0);
	refused(add_disk(&cfg, "a.img", &e), &e, "\"a.img\" is already used by another disk", "path");
	assert_int_equal(cfg.ndisks, 1);
	assert_int_equal(cfg.ndevices, 1);

	struct avp_net_cfg n = { .tap = strdup("tap-name-far-too-long") };
	refused(avp_config_add_net(&cfg, &n, &e), &e, "is not an interface name", "tap");
	assert_null(n.tap); /* taken over, and freed, even when refused */
	n = (struct avp_net_cfg){ .tap = strdup("t0") };
	assert_int_equal(avp_config_add_net(&cfg, &n, &e), 0);
	n = (struct avp_net_cfg){ .tap = strdup("t0") };
	refused(avp_config_add_net(&cfg, &n, &e), &e, "tap \"t0\" is already used", "tap");

	assert_int_equal(avp_config_add_rng(&cfg, &e), 0);
	refused(avp_config_add_rng(&cfg, &e), &e, "only one rng device", NULL);

	struct avp_gpu_cfg g = { .width = 800 };
	assert_int_equal(avp_config_add_gpu(&cfg, &g, &e), 0);
	assert_int_equal(cfg.gpu.width, 800);
	assert_int_equal(cfg.gpu.height, VIRTIO_GPU_DEFAULT_HEIGHT); /* the one size rule */
	refused(avp_config_add_gpu(&cfg, &g, &e), &e, "only one gpu device", NULL);
	g = (struct avp_gpu_cfg){ .width = 4000, .height = 4000 };
	assert_int_equal(avp_config_gpu_size(&g, &e), -EINVAL);

	struct avp_input_cfg in = { .kind = AVP_INPUT_TOUCH, .height = 600 };
	assert_int_equal(avp_config_add_input(&cfg, &in, &e), 0);
	assert_int_equal(cfg.inputs[0].width, AVP_TOUCH_DEFAULT_WIDTH);
	refused(avp_config_add_input(&cfg, &in, &e), &e, "a second touch", "kind");
	in = (struct avp_input_cfg){ .kind = AVP_INPUT_KEYBOARD, .width = 5 };
	refused(avp_config_add_input(&cfg, &in, &e), &e, "for touch only", NULL);

	struct avp_sound_cfg s = { .out_path = strdup("x.wav"), .in_path = strdup("x.wav") };
	refused(avp_config_add_sound(&cfg, &s, &e), &e, "must be different files", NULL);
	assert_null(s.out_path);

	struct avp_vsock_cfg v = { .cid = 2, .socket = strdup("/v") };
	refused(avp_config_add_vsock(&cfg, &v, &e), &e, "CID 2 is reserved", "cid");
	v = (struct avp_vsock_cfg){ .cid = 3, .socket = strdup("/v") };
	assert_int_equal(avp_config_add_vsock(&cfg, &v, &e), 0);
	struct avp_vsock_peer p = { .cid = 3, .socket = strdup("/p") };
	assert_int_equal(avp_config_add_vsock_peer(&cfg, &p, &e), 0);
	p = (struct avp_vsock_peer){ .cid = 3, .socket = strdup("/q") };
	refused(avp_config_add_vsock_peer(&cfg, &p, &e), &e, "CID 3 is given twice", "cid");
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
	c = (struct avp_chardev_cfg){ 0 };
	assert_int_equal(avp_parse_chardev("socket=/s", NULL, &c), 0);
	assert_int_equal(avp_config_add_console(&cfg, &c, &e), 0);
	refused(avp_config_check(&cfg, &e), &e, "cannot listen on the same socket", "serial");
	avp_config_free(&cfg);
}

static void test_declaration_order(void **state)
{
	struct avp_config cfg;
	struct avp_config_err e = { 0 };
	struct avp_chardev_cfg c = { 0 };
	int ret;

	(void)state;
	avp_config_init(&cfg);
	assert_int_equal(avp_config_add_rng(&cfg, &e), 0);
	assert_int_equal(avp_parse_chardev("file:hvc0.log", "/b", &c), 0);
	assert_string_equal(c.path, "/b/hvc0.log"); /* relative to the bundle */
	assert_int_equal(avp_config_add_console(&cfg, &c, &e), 0);
	assert_int_equal(add_disk(&cfg, "a.img", &e), 0);
	assert_int_equal(cfg.ndevices, 3);
	assert_int_equal(cfg.devices[0].kind, AVP_DEV_RNG);
	assert_int_equal(cfg.devices[1].kind, AVP_DEV_CONSOLE);
	assert_int_equal(cfg.devices[2].kind, AVP_DEV_DISK);
	/* --console none takes the console out, and its place. */
	c = (struct avp_chardev_cfg){ .kind = AVP_CHR_NONE };
	assert_int_equal(avp_config_add_console(&cfg, &c, &e), 0);
	assert_int_equal(cfg.ndevices, 2);
	assert_int_equal(cfg.devices[1].kind, AVP_DEV_DISK);
	assert_false(avp_config_has(&cfg, AVP_DEV_CONSOLE));
	avp_config_free(&cfg);

	/* All the windows there are, and no more. */
	avp_config_init(&cfg);
	ret = 0;
	for (int i = 0; ret == 0 && i < AVP_MAX_DISKS; i++) {
		char path[16];

		snprintf(path, sizeof(path), "%d", i);
		ret = add_disk(&cfg, path, &e);
	}
	for (int i = 0; ret == 0 && i < AVP_MAX_NETS; i++) {
		struct avp_net_cfg n = { .tap = malloc(8) };

		snprintf(n.tap, 8, "t%d", i);
		ret = avp_config_add_net(&cfg, &n, &e);
	}
	assert_int_equal(ret, 0);
	assert_int_equal(avp_config_add_rng(&cfg, &e), 0);
	struct avp_input_cfg kbd = { .kind = AVP_INPUT_KEYBOARD };
	struct avp_input_cfg touch = { .kind = AVP_INPUT_TOUCH };
	assert_int_equal(avp_config_add_input(&cfg, &kbd, &e), 0);
	assert_int_equal(avp_config_add_input(&cfg, &touch, &e), 0);
	struct avp_gpu_cfg g = { 0 };
	assert_int_equal(avp_config_add_gpu(&cfg, &g, &e), 0);
	assert_int_equal(cfg.ndevices, AVP_MAX_DEVICES);
	c = (struct avp_chardev_cfg){ .kind = AVP_CHR_STDIO };
	refused(avp_config_add_console(&cfg, &c, &e), &e, "at most 16 VIRTIO devices", NULL);
	assert_false(avp_config_has(&cfg, AVP_DEV_CONSOLE));
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
