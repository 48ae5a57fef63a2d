/* The runtime's state directory is trusted only when nobody else could
 * have put anything in it, and no file in it is opened through a link
 * (issue 13, item 5): a root or VM directory of another user, one
 * writable by others, a symbolic link, a planted state.json.tmp.* link
 * must never make the runtime (usually root) write elsewhere. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "avp/runtime/lifecycle.h"
#include "avp/runtime/state.h"
#include "avp/runtime/statedir.h"
#include "avp/runtime/system.h"

#define OTHER_UID 65534 /* nobody */

static char tmpdir[256];

static int setup_tmp(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/avp-test-rtstate.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_tmp(void **state)
{
	char cmd[PATH_MAX + 16];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void at(char *buf, size_t len, const char *rel)
{
	snprintf(buf, len, "%s/%s", tmpdir, rel);
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void assert_file_is(const char *path, const char *text)
{
	char buf[256] = "";
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	assert_string_equal(buf, text);
}

/* A bundle the create path accepts (no VM is ever booted here). */
static void make_bundle(char *bundle, size_t len)
{
	char path[PATH_MAX + 32];

	at(bundle, len, "bundle");
	mkdir(bundle, 0755);
	snprintf(path, sizeof(path), "%s/bz", bundle);
	write_text(path, "kernel");
	snprintf(path, sizeof(path), "%s/config.json", bundle);
	write_text(path, "{\"kernel\": \"bz\"}");
}

static bool can_chown(const char *path)
{
	return chown(path, OTHER_UID, OTHER_UID) == 0;
}

/* create, state and list refuse the root with msg in the error, and
 * create made nothing in it. */
static void root_refused(const char *root, const char *msg)
{
	char bundle[PATH_MAX], vmdir[PATH_MAX + 16];
	struct jc_err e = { "" };
	struct rt_state st;
	char **ids;
	size_t n;

	make_bundle(bundle, sizeof(bundle));
	assert_int_equal(rt_create(root, "vm", bundle, &e), -EPERM);
	if (!strstr(e.text, msg))
		fail_msg("create: expected '%s' in '%s'", msg, e.text);
	snprintf(vmdir, sizeof(vmdir), "%s/vm", root);
	assert_int_not_equal(access(vmdir, F_OK), 0);
	e.text[0] = '\0';
	assert_int_equal(rt_state_get(root, "vm", &st, &e), -EPERM);
	assert_non_null(strstr(e.text, msg));
	e.text[0] = '\0';
	assert_int_equal(rt_list_ids(root, &ids, &n, &e), -EPERM);
	assert_non_null(strstr(e.text, msg));
}

static void test_root_of_another_user(void **state)
{
	char root[PATH_MAX];

	(void)state;
	at(root, sizeof(root), "other");
	assert_int_equal(mkdir(root, 0755), 0);
	if (!can_chown(root))
		skip(); /* needs root (or CAP_CHOWN) to make a directory of another user */
	root_refused(root, "belongs to uid 65534, not to you");
}

static void test_root_writable_by_others(void **state)
{
	char root[PATH_MAX];

	(void)state;
	at(root, sizeof(root), "groupw");
	assert_int_equal(mkdir(root, 0755), 0);
	assert_int_equal(chmod(root, 0775), 0);
	root_refused(root, "writable by its group (mode 0775)");
	at(root, sizeof(root), "worldw");
	assert_int_equal(mkdir(root, 0755), 0);
	/* The sticky bit protects entries, but the root's own entries are
	 * ours to trust: still refused. */
	assert_int_equal(chmod(root, 01777), 0);
	root_refused(root, "writable by everyone (mode 1777)");
}

static void test_root_symlink(void **state)
{
	char root[PATH_MAX], real[PATH_MAX];

	(void)state;
	at(real, sizeof(real), "realroot");
	assert_int_equal(mkdir(real, 0755), 0);
	at(root, sizeof(root), "linkroot");
	assert_int_equal(symlink(real, root), 0);
	root_refused(root, "is a symbolic link");
	strcat(root, "/"); /* lstat("LINK/") would follow it */
	root_refused(root, "is a symbolic link");
}

/* Someone who may rename entries in a directory above the root could swap
 * the root after the check. */
static void test_root_under_unsafe_parent(void **state)
{
	char parent[PATH_MAX], root[PATH_MAX + 16];
	struct jc_err e = { "" };

	(void)state;
	at(parent, sizeof(parent), "openparent");
	assert_int_equal(mkdir(parent, 0755), 0);
	assert_int_equal(chmod(parent, 0777), 0);
	snprintf(root, sizeof(root), "%s/root", parent);
	root_refused(root, "without the sticky bit");
	/* Sticky, like /tmp: nobody can rename our entries there. */
	assert_int_equal(chmod(parent, 01777), 0);
	assert_int_equal(rt_root_check(root, true, &e), 0);
	if (can_chown(parent)) {
		assert_int_equal(chmod(parent, 0755), 0);
		e.text[0] = '\0';
		assert_int_equal(rt_root_check(root, false, &e), -EPERM);
		assert_non_null(strstr(e.text, "belongs to uid 65534, who could replace the root"));
	}
}

/* A root that does not exist yet is made 0755, ours, and accepted; a
 * relative path is checked from the working directory up. */
static void test_root_created(void **state)
{
	char root[PATH_MAX];
	struct jc_err e = { "" };
	struct stat st;

	(void)state;
	at(root, sizeof(root), "new/deeper/root");
	assert_int_equal(rt_root_check(root, false, &e), -ENOENT);
	assert_int_equal(rt_root_check(root, true, &e), 0);
	assert_int_equal(stat(root, &st), 0);
	assert_int_equal(st.st_uid, geteuid());
	assert_int_equal(st.st_mode & 022, 0);
	assert_int_equal(chdir(tmpdir), 0);
	assert_int_equal(rt_root_check("new/deeper/root", false, &e), 0);
	assert_int_equal(chdir("/"), 0);
}

static void test_vm_dir_checked(void **state)
{
	char root[PATH_MAX], dir[PATH_MAX + 16], real[PATH_MAX];
	struct jc_err e = { "" };
	struct rt_state st;

	(void)state;
	at(root, sizeof(root), "vmroot");
	assert_int_equal(mkdir(root, 0755), 0);
	memset(&st, 0, sizeof(st));
	strcpy(st.id, "vm");
	snprintf(dir, sizeof(dir), "%s/vm", root);
	assert_int_equal(mkdir(dir, 0755), 0);
	assert_int_equal(rt_state_write(root, &st), 0);
	assert_int_equal(rt_state_get(root, "vm", &st, &e), 0);

	assert_int_equal(chmod(dir, 0757), 0);
	assert_int_equal(rt_state_get(root, "vm", &st, &e), -EPERM);
	assert_non_null(strstr(e.text, "state directory"));
	assert_non_null(strstr(e.text, "writable by everyone"));
	assert_int_equal(chmod(dir, 0755), 0);
	if (can_chown(dir)) {
		e.text[0] = '\0';
		assert_int_equal(rt_state_get(root, "vm", &st, &e), -EPERM);
		assert_non_null(strstr(e.text, "belongs to uid 65534"));
	}
	/* ROOT/ID as a link to a directory elsewhere */
	at(real, sizeof(real), "elsewhere");
	assert_int_equal(mkdir(real, 0755), 0);
	snprintf(dir, sizeof(dir), "%s/vm2", root);
	assert_int_equal(symlink(real, dir), 0);
	e.text[0] = '\0';
	assert_int_equal(rt_state_get(root, "vm2", &st, &e), -EPERM);
	assert_non_null(strstr(e.text, "is a symbolic link"));
	e.text[0] = '\0';
	assert_int_equal(rt_state_get(root, "vm3", &st, &e), -ENOENT);
	assert_non_null(strstr(e.text, "no VM with ID 'vm3'"));
}

/* Links planted under every name the temporary could take, and as
 * state.json itself: the victim stays as it was, the state is written. */
static void test_state_write_follows_no_link(void **state)
{
	char root[PATH_MAX], dir[PATH_MAX + 16], victim[PATH_MAX], name[PATH_MAX + 64];
	struct rt_state st, back;

	(void)state;
	at(root, sizeof(root), "wroot");
	assert_int_equal(mkdir(root, 0755), 0);
	snprintf(dir, sizeof(dir), "%s/vm", root);
	assert_int_equal(mkdir(dir, 0755), 0);
	at(victim, sizeof(victim), "victim");
	write_text(victim, "precious\n");
	snprintf(name, sizeof(name), "%s/state.json.tmp.%d", dir, (int)getpid());
	assert_int_equal(symlink(victim, name), 0);
	for (unsigned int i = 0; i < 64; i++) {
		snprintf(name, sizeof(name), "%s/state.json.tmp.%d.%u", dir, (int)getpid(), i);
		assert_int_equal(symlink(victim, name), 0);
	}
	memset(&st, 0, sizeof(st));
	strcpy(st.id, "vm");
	st.status = RT_RUNNING;
	assert_int_equal(rt_state_write(root, &st), 0);
	assert_file_is(victim, "precious\n");
	assert_int_equal(rt_state_read(root, "vm", &back), 0);
	assert_int_equal(back.status, RT_RUNNING);

	/* state.json replaced by a link: never read through, and the next
	 * write replaces the link rather than the file it names. */
	snprintf(name, sizeof(name), "%s/state.json", dir);
	assert_int_equal(unlink(name), 0);
	assert_int_equal(symlink(victim, name), 0);
	assert_int_equal(rt_state_read(root, "vm", &back), -EPERM);
	assert_int_equal(rt_state_write(root, &st), 0);
	assert_file_is(victim, "precious\n");
	assert_int_equal(rt_state_read(root, "vm", &back), 0);
}

static void test_open_file_refuses_links_and_fifos(void **state)
{
	char victim[PATH_MAX], link[PATH_MAX], fifo[PATH_MAX];
	int fd;

	(void)state;
	at(victim, sizeof(victim), "victim2");
	write_text(victim, "precious\n");
	at(link, sizeof(link), "link2");
	assert_int_equal(symlink(victim, link), 0);
	assert_int_equal(rt_open_file(link, O_WRONLY | O_APPEND | O_CREAT, 0640), -EPERM);
	assert_int_equal(rt_open_file(link, O_WRONLY | O_TRUNC, 0640), -EPERM);
	assert_file_is(victim, "precious\n");
	at(fifo, sizeof(fifo), "fifo2");
	assert_int_equal(mkfifo(fifo, 0600), 0);
	/* would block forever in a plain open for writing */
	assert_int_equal(rt_open_file(fifo, O_WRONLY | O_APPEND, 0640), -ENXIO);
	fd = rt_open_file(victim, O_WRONLY | O_APPEND, 0640);
	assert_true(fd >= 0);
	assert_int_equal(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
	close(fd);
}

/* system up refuses before it makes a bridge or a VM; down leaves an
 * untrusted root alone and says why. */
static void test_system_refuses_untrusted_root(void **state)
{
	char root[PATH_MAX], bundle[PATH_MAX], file[PATH_MAX];
	struct jc_err e = { "" };
	struct avp_system sys;

	(void)state;
	make_bundle(bundle, sizeof(bundle));
	at(file, sizeof(file), "system.json");
	write_text(file, "{\"vms\": [ { \"id\": \"one\", \"bundle\": \"bundle\" } ]}");
	assert_int_equal(system_load(file, &sys, &e), 0);
	at(root, sizeof(root), "sysroot");
	assert_int_equal(mkdir(root, 0755), 0);
	assert_int_equal(chmod(root, 0777), 0);
	assert_int_equal(system_up(root, &sys, 0, &e), -EPERM);
	assert_non_null(strstr(e.text, "writable by everyone"));
	e.text[0] = '\0';
	assert_int_equal(system_down(root, &sys, &e), -EPERM);
	assert_non_null(strstr(e.text, "writable by everyone"));
	system_free(&sys);
}

/* A CAN bus naming an interface that does not exist: one error naming
 * it, at system up, before any VM is created (docs/can.md). */
static void test_system_can_bus_needs_its_interface(void **state)
{
	char root[PATH_MAX], bundle[PATH_MAX], file[PATH_MAX], path[PATH_MAX + 32];
	struct jc_err e = { "" };
	struct avp_system sys;
	struct rt_state st;

	(void)state;
	make_bundle(bundle, sizeof(bundle));
	snprintf(path, sizeof(path), "%s/config.json", bundle);
	write_text(path, "{\"kernel\": \"bz\", \"devices\": [{\"type\": \"can\", \"bus\": \"body\"}]}");
	at(file, sizeof(file), "system-can.json");
	write_text(file, "{\"vms\": [{\"id\": \"one\", \"bundle\": \"bundle\"}], \"can\": [{\"name\":"
			 " \"body\", \"interface\": \"avpnocan9\", \"members\": [\"one\"]}]}");
	assert_int_equal(system_load(file, &sys, &e), 0);
	at(root, sizeof(root), "canroot");
	assert_int_equal(system_up(root, &sys, 0, &e), -ENODEV);
	if (!strstr(e.text, "can[0].interface: no host interface avpnocan9"))
		fail_msg("%s", e.text);
	assert_int_equal(rt_state_read(root, "one", &st), -ENOENT);
	system_free(&sys);
	make_bundle(bundle, sizeof(bundle)); /* as the other tests want it */
}

/* The CAN buses system up records survive state.json (the monitor reads
 * them back to pass --can-bus on). */
static void test_state_keeps_can_buses(void **state)
{
	char root[PATH_MAX], dir[PATH_MAX + 8];
	struct rt_state st, back;

	(void)state;
	at(root, sizeof(root), "canstate");
	assert_int_equal(mkdir(root, 0755), 0);
	snprintf(dir, sizeof(dir), "%s/vm", root);
	assert_int_equal(mkdir(dir, 0755), 0);
	memset(&st, 0, sizeof(st));
	snprintf(st.id, sizeof(st.id), "vm");
	st.ncan = 2;
	snprintf(st.can[0].bus, sizeof(st.can[0].bus), "body");
	snprintf(st.can[0].ifname, sizeof(st.can[0].ifname), "avpcan-body");
	snprintf(st.can[0].tx, sizeof(st.can[0].tx), "both:0x300-0x3ff");
	snprintf(st.can[1].bus, sizeof(st.can[1].bus), "chassis");
	snprintf(st.can[1].ifname, sizeof(st.can[1].ifname), "can0");
	snprintf(st.can[1].rx, sizeof(st.can[1].rx), "none");
	assert_int_equal(rt_state_write(root, &st), 0);
	assert_int_equal(rt_state_read(root, "vm", &back), 0);
	assert_int_equal(back.ncan, 2);
	assert_string_equal(back.can[0].bus, "body");
	assert_string_equal(back.can[0].ifname, "avpcan-body");
	assert_string_equal(back.can[0].tx, "both:0x300-0x3ff");
	assert_string_equal(back.can[0].rx, "");
	assert_string_equal(back.can[1].ifname, "can0");
	assert_string_equal(back.can[1].tx, "");
	assert_string_equal(back.can[1].rx, "none");
}

/* avp state's "can": a running VM's control socket is asked for its CAN
 * counters (here a stand-in that answers one request). */
static void test_state_asks_for_can_counters(void **state)
{
	char root[PATH_MAX], sock[PATH_MAX + 32];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct rt_state st;
	struct json_object *can;
	int lfd, status;
	pid_t pid;

	(void)state;
	at(root, sizeof(root), "canlive");
	assert_int_equal(mkdir(root, 0755), 0);
	snprintf(sock, sizeof(sock), "%s/vm", root);
	assert_int_equal(mkdir(sock, 0755), 0);
	snprintf(sock, sizeof(sock), "%s/vm/api.sock", root);
	if (strlen(sock) >= sizeof(sa.sun_path)) {
		print_message("skipped: %s is too long for a socket address\n", sock);
		skip();
	}
	memcpy(sa.sun_path, sock, strlen(sock) + 1);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 1), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		static const char reply[] = "{\"ok\": true, \"can\": [{\"interface\": \"vcan0\", "
					    "\"tx_refused\": 3}]}\n";
		char req[256];
		int c = accept(lfd, NULL, NULL);
		size_t got = 0;
		ssize_t n;

		/* The whole line, as the real server reads it: the client sends
		 * the request and its newline apart, and a reply (and exit) after
		 * the first part alone made its second send fail (EPIPE), a
		 * failure seen under load. */
		while (c >= 0 && got < sizeof(req) - 1 &&
		       (n = read(c, req + got, sizeof(req) - 1 - got)) > 0) {
			got += (size_t)n;
			if (memchr(req, '\n', got))
				break;
		}
		if (!got || !memchr(req, '\n', got))
			_exit(1);
		req[got] = '\0';
		_exit(strstr(req, "\"can\"") && write(c, reply, sizeof(reply) - 1) > 0 ? 0 : 2);
	}
	close(lfd);
	memset(&st, 0, sizeof(st));
	snprintf(st.id, sizeof(st.id), "vm");
	st.status = RT_STOPPED;
	assert_null(system_vm_can(root, &st, 10000)); /* not running: not asked */
	st.status = RT_RUNNING;
	/* A wait no scheduler on a loaded machine comes near: the child must
	 * get to accept and answer (with 500 ms it failed once under load). */
	can = system_vm_can(root, &st, 10000);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_non_null(can);
	assert_int_equal(json_object_get_int(json_object_object_get(
				 json_object_array_get_idx(can, 0), "tx_refused")), 3);
	json_object_put(can);
	unlink(sock);
	assert_null(system_vm_can(root, &st, 10000)); /* nobody answers */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_root_of_another_user),
		cmocka_unit_test(test_root_writable_by_others),
		cmocka_unit_test(test_root_symlink),
		cmocka_unit_test(test_root_under_unsafe_parent),
		cmocka_unit_test(test_root_created),
		cmocka_unit_test(test_vm_dir_checked),
		cmocka_unit_test(test_state_write_follows_no_link),
		cmocka_unit_test(test_open_file_refuses_links_and_fifos),
		cmocka_unit_test(test_system_refuses_untrusted_root),
		cmocka_unit_test(test_system_can_bus_needs_its_interface),
		cmocka_unit_test(test_state_keeps_can_buses),
		cmocka_unit_test(test_state_asks_for_can_counters),
	};

	return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}
