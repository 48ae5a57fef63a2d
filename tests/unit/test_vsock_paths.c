/* Colliding vsock socket paths (avp/devices/vsock_paths.h, issue 13): a
 * VM's socket that is another VM's PATH_<port>, or the same path, is
 * refused wherever avp sees both; anything else is not. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "avp/devices/vsock_paths.h"

static void both_ways(const char *a, const char *b, bool want)
{
	if (vsock_socket_paths_conflict(a, b) != want || vsock_socket_paths_conflict(b, a) != want)
		fail_msg("'%s' and '%s': expected %s", a, b, want ? "a collision" : "no collision");
}

static void test_port_paths_collide(void **state)
{
	(void)state;
	both_ways("/run/avp/a.sock", "/run/avp/a.sock", true);
	both_ways("/run/avp/a.sock", "/run/avp/a.sock_5000", true);
	both_ways("/run/avp/a.sock", "/run/avp/a.sock_0", true);
	both_ways("/run/avp/a.sock", "/run/avp/a.sock_4294967295", true);
	both_ways("a.sock", "a.sock_22", true);
	/* spelled differently, the same place */
	both_ways("/run//avp/./a.sock", "/run/avp/a.sock_22", true);
	both_ways("/run/avp/a.sock/", "/run/avp/./a.sock", true);
	both_ways("./a.sock", "a.sock_1", true);
	/* one VM's port path is another's too: a.sock_5 and a.sock_5_6 */
	both_ways("/run/avp/a.sock_5", "/run/avp/a.sock_5_6", true);
}

static void test_other_paths_do_not(void **state)
{
	(void)state;
	both_ways("/run/avp/a.sock", "/run/avp/b.sock", false);
	both_ways("/run/avp/a.sock", "/run/avp/a.sockx", false);
	both_ways("/run/avp/a.sock", "/run/avp/a.sock_", false);
	both_ways("/run/avp/a.sock", "/run/avp/a.sock_05", false);	    /* avp writes "5" */
	both_ways("/run/avp/a.sock", "/run/avp/a.sock_4294967296", false); /* no such port */
	both_ways("/run/avp/a.sock", "/run/avp/a.sock_5x", false);
	both_ways("/run/avp/a.sock", "/run/avp/a.sock_5_6", false);
	both_ways("/run/avp/a.sock", "/srv/avp/a.sock_5", false);
	both_ways("/run/avp/a", "/run/avp/ab_1", false);
	both_ways("/run/avp/a.sock", "/run/avp/a.sock-5", false);
}

static void test_same(void **state)
{
	(void)state;
	assert_true(vsock_socket_paths_same("/run//x/./v.sock", "/run/x/v.sock"));
	assert_true(vsock_socket_paths_same("v.sock", "./v.sock"));
	assert_false(vsock_socket_paths_same("/run/x/v.sock", "/run/x/v.sock_1"));
	assert_false(vsock_socket_paths_same("/run/x/v.sock", "/run/y/v.sock"));
}

/* Directories are resolved (links, relative paths); a directory that does
 * not exist leaves the path as given. */
static void test_resolve(void **state)
{
	char dir[] = "/tmp/avp-vsock-paths.XXXXXX", real[PATH_MAX], sub[PATH_MAX + 8],
	     link[PATH_MAX + 8], in[PATH_MAX + 32], out[PATH_MAX], want[PATH_MAX + 32], cwd[PATH_MAX];

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_non_null(realpath(dir, real));
	snprintf(sub, sizeof(sub), "%s/real", dir);
	snprintf(link, sizeof(link), "%s/link", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_int_equal(symlink("real", link), 0);

	snprintf(in, sizeof(in), "%s/link/v.sock", dir);
	assert_int_equal(vsock_socket_path_resolve(in, out, sizeof(out)), 0);
	snprintf(want, sizeof(want), "%s/real/v.sock", real);
	assert_string_equal(out, want);
	/* a link to a directory hides no collision */
	snprintf(in, sizeof(in), "%s/link/v.sock_7", dir);
	assert_int_equal(vsock_socket_path_resolve(in, want, sizeof(want)), 0);
	assert_true(vsock_socket_paths_conflict(out, want));

	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(sub), 0);
	assert_int_equal(vsock_socket_path_resolve("v.sock", out, sizeof(out)), 0);
	snprintf(want, sizeof(want), "%s/real/v.sock", real);
	assert_string_equal(out, want);
	assert_int_equal(chdir(cwd), 0);

	assert_int_equal(vsock_socket_path_resolve("/nonexistent-avp/x/v.sock", out, sizeof(out)), 0);
	assert_string_equal(out, "/nonexistent-avp/x/v.sock");
	assert_int_equal(vsock_socket_path_resolve("/v.sock", out, sizeof(out)), 0);
	assert_string_equal(out, "/v.sock");
	assert_int_equal(vsock_socket_path_resolve("/run/x/v.sock", out, 4), -ENAMETOOLONG);

	assert_int_equal(unlink(link), 0);
	assert_int_equal(rmdir(sub), 0);
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_port_paths_collide),
		cmocka_unit_test(test_other_paths_do_not),
		cmocka_unit_test(test_same),
		cmocka_unit_test(test_resolve),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
