/* The runc-compatible lifecycle of OCI bundles (docs/oci.md), with a real
 * container process and a shell script standing in for avp run
 * (rt_vmm_program): the pid file, created -> running -> stopped, the exit
 * status the engine reads from the container process (waitpid, as conmon
 * and containerd's shim do), signals before and after start, the console
 * socket (a pty master received by SCM_RIGHTS), every refusal; and the
 * pure mappings (signal names, exit statuses, the OCI shape of an avp VM's
 * state). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "avp/runtime/bundle.h"
#include "avp/runtime/monitor.h"
#include "avp/runtime/oci.h"
#include "avp/runtime/oci_image.h"
#include "avp/runtime/state.h"
#include "avp/vm.h"
#include "support/rt_fixture.h"

static const struct oci_log no_log = { NULL, false };

/* Bundle b-ID with an OCI config.json whose kernel exists, and the script
 * avp run is replaced by. */
static void make_bundle(const char *id, const char *body, char *bundle, size_t len)
{
	static char script[PATH_MAX + 32];
	char path[PATH_MAX + 32], text[4096];

	snprintf(bundle, len, "%s/b-%s", rtfx_tmpdir, id);
	assert_int_equal(mkdir(bundle, 0755), 0);
	snprintf(path, sizeof(path), "%s/bz", bundle);
	rtfx_write_text(path, "kernel", 0644);
	snprintf(path, sizeof(path), "%s/config.json", bundle);
	snprintf(text, sizeof(text),
		 "{\"ociVersion\": \"1.0.2\", \"process\": {\"args\": [\"sh\"]}, "
		 "\"annotations\": {\"io.example\": \"yes\"}, "
		 "\"vm\": {\"kernel\": {\"path\": \"%s/bz\"}}}", bundle);
	rtfx_write_text(path, text, 0644);
	snprintf(script, sizeof(script), "%s/vmm.sh", bundle);
	snprintf(text, sizeof(text), "#!/bin/sh\n%s", body);
	rtfx_write_text(script, text, 0755);
	rt_vmm_program = script;
}

static pid_t create(const char *id, const char *body, const char *console_socket)
{
	char bundle[PATH_MAX], pidfile[PATH_MAX + 16], text[32] = "";
	struct oci_create_opts o = { .root = rtfx_root, .id = id, .bundle = bundle,
				     .pid_file = pidfile, .console_socket = console_socket,
				     .log = &no_log };
	struct jc_err e = { "" };
	FILE *f;

	make_bundle(id, body, bundle, sizeof(bundle));
	snprintf(pidfile, sizeof(pidfile), "%s/%s.pid", rtfx_tmpdir, id);
	if (oci_create(&o, &e))
		fail_msg("create %s: %s", id, e.text);
	f = fopen(pidfile, "r");
	assert_non_null(f);
	assert_non_null(fgets(text, sizeof(text), f));
	fclose(f);
	return (pid_t)atoi(text);
}

static const char *status_of(const char *id, pid_t *pid)
{
	static char status[16];
	struct json_object *o;
	struct jc_err e = { "" };

	if (oci_state(rtfx_root, id, &o, &e))
		fail_msg("state %s: %s", id, e.text);
	snprintf(status, sizeof(status), "%s",
		 json_object_get_string(json_object_object_get(o, "status")));
	if (pid)
		*pid = json_object_get_int(json_object_object_get(o, "pid"));
	json_object_put(o);
	return status;
}

/* The container process's exit status, as its engine would reap it. */
static int reap(pid_t pid)
{
	int ws;

	assert_int_equal(waitpid(pid, &ws, 0), pid);
	assert_true(WIFEXITED(ws));
	return WEXITSTATUS(ws);
}

static void delete_vm(const char *id)
{
	struct jc_err e = { "" };

	if (oci_delete(rtfx_root, id, false, &e))
		fail_msg("delete %s: %s", id, e.text);
	assert_false(oci_is_oci_vm(rtfx_root, id));
}

static void test_lifecycle_and_exit_status(void **state)
{
	static const struct {
		const char *id, *body;
		int status;
	} cases[] = {
		{ "off", "exit 0\n", 0 },				   /* poweroff */
		{ "crash", "exit 2\n", OCI_EXIT_VM_FAILURE },		   /* guest crash */
		{ "hosterr", "exit 4\n", OCI_EXIT_VM_FAILURE },	   /* VMM failure */
		{ "config", "exit 1\n", OCI_EXIT_VM_FAILURE },	   /* bad input */
		{ "killed", "kill -9 $$\n", 128 + SIGKILL },		   /* VMM killed */
	};
	struct jc_err e = { "" };

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pid_t pid = create(cases[i].id, cases[i].body, NULL), spid;

		assert_true(pid > 0);
		assert_true(oci_is_oci_vm(rtfx_root, cases[i].id));
		assert_string_equal(status_of(cases[i].id, &spid), "created");
		assert_int_equal(spid, pid);
		if (oci_start(rtfx_root, cases[i].id, &e))
			fail_msg("start %s: %s", cases[i].id, e.text);
		assert_int_equal(reap(pid), cases[i].status);
		assert_string_equal(status_of(cases[i].id, &spid), "stopped");
		assert_int_equal(spid, 0);
		/* runtime.md: start of a container that is not created is an error */
		assert_int_not_equal(oci_start(rtfx_root, cases[i].id, &e), 0);
		delete_vm(cases[i].id);
	}
}

/* The VMM does not run before start: its script would leave a mark. */
static void test_nothing_runs_before_start(void **state)
{
	char mark[PATH_MAX + 16], body[PATH_MAX + 64];
	struct jc_err e = { "" };
	pid_t pid;

	(void)state;
	snprintf(mark, sizeof(mark), "%s/ran", rtfx_tmpdir);
	snprintf(body, sizeof(body), "touch %s\nexit 0\n", mark);
	pid = create("late", body, NULL);
	usleep(300 * 1000);
	assert_int_not_equal(access(mark, F_OK), 0);
	assert_int_equal(oci_start(rtfx_root, "late", &e), 0);
	assert_int_equal(reap(pid), 0);
	assert_int_equal(access(mark, F_OK), 0);
	delete_vm("late");
}

/* TERM without a control socket to press the power button: SIGTERM to
 * the VMM, which a real avp run answers with exit status 5. */
static void test_kill_running(void **state)
{
	struct jc_err e = { "" };
	pid_t pid = create("term", "trap 'kill $!; exit 5' TERM\nsleep 30 & wait\n", NULL);

	(void)state;
	assert_int_equal(oci_start(rtfx_root, "term", &e), 0);
	usleep(300 * 1000);
	assert_string_equal(status_of("term", NULL), "running");
	/* delete refuses a running container without --force */
	assert_int_equal(oci_delete(rtfx_root, "term", false, &e), -EBUSY);
	/* a signal that means nothing to a VM leaves it running */
	assert_int_equal(oci_kill(rtfx_root, "term", SIGUSR1, &e), 0);
	usleep(200 * 1000);
	assert_string_equal(status_of("term", NULL), "running");
	assert_int_equal(oci_kill(rtfx_root, "term", SIGTERM, &e), 0);
	assert_int_equal(reap(pid), 128 + SIGTERM);
	e.text[0] = '\0';
	assert_int_equal(oci_kill(rtfx_root, "term", SIGTERM, &e), -ESRCH);
	assert_non_null(strstr(e.text, "not running"));
	delete_vm("term");
}

/* A created container that gets a signal ends without running anything. */
static void test_kill_created(void **state)
{
	struct jc_err e = { "" };
	pid_t pid = create("ck", "exit 0\n", NULL);

	(void)state;
	assert_int_equal(oci_kill(rtfx_root, "ck", SIGTERM, &e), 0);
	assert_int_equal(reap(pid), 128 + SIGTERM);
	assert_string_equal(status_of("ck", NULL), "stopped");
	assert_int_not_equal(oci_start(rtfx_root, "ck", &e), 0);
	delete_vm("ck");
}

static void test_delete_force(void **state)
{
	struct jc_err e = { "" };
	pid_t pid = create("force", "exec sleep 30\n", NULL);
	int ws;

	(void)state;
	assert_int_equal(oci_start(rtfx_root, "force", &e), 0);
	usleep(200 * 1000);
	assert_int_equal(oci_delete(rtfx_root, "force", true, &e), 0);
	assert_int_equal(waitpid(pid, &ws, 0), pid);
	assert_true(WIFSIGNALED(ws));
	assert_false(oci_is_oci_vm(rtfx_root, "force"));
}

static void test_refusals(void **state)
{
	char bundle[PATH_MAX], path[PATH_MAX + 16];
	struct oci_create_opts o = { .root = rtfx_root, .id = "dup", .bundle = bundle,
				     .log = &no_log };
	struct jc_err e = { "" };
	pid_t pid = create("dup", "exit 0\n", NULL);
	int ws;

	(void)state;
	/* the same ID twice */
	snprintf(bundle, sizeof(bundle), "%s/b-dup", rtfx_tmpdir);
	assert_int_equal(oci_create(&o, &e), -EEXIST);
	assert_non_null(strstr(e.text, "exists already"));
	/* the first is untouched */
	assert_string_equal(status_of("dup", NULL), "created");
	assert_int_equal(oci_delete(rtfx_root, "dup", false, &e), 0);
	assert_int_equal(waitpid(pid, &ws, 0), pid);
	assert_true(WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL);

	/* unknown ID */
	e.text[0] = '\0';
	assert_int_equal(oci_start(rtfx_root, "nope", &e), -ENOENT);
	assert_non_null(strstr(e.text, "no container"));
	assert_false(oci_is_oci_vm(rtfx_root, "nope"));

	/* a missing kernel: refused, nothing left behind */
	make_bundle("nokernel", "exit 0\n", bundle, sizeof(bundle));
	snprintf(path, sizeof(path), "%s/bz", bundle);
	assert_int_equal(unlink(path), 0);
	o.id = "nokernel";
	e.text[0] = '\0';
	assert_int_not_equal(oci_create(&o, &e), 0);
	assert_non_null(strstr(e.text, "bz"));
	snprintf(path, sizeof(path), "%s/nokernel", rtfx_root);
	assert_int_not_equal(access(path, F_OK), 0);

	/* an avp bundle through the OCI path */
	snprintf(path, sizeof(path), "%s/config.json", bundle);
	rtfx_write_text(path, "{\"kernel\": \"bz\"}", 0644);
	snprintf(path, sizeof(path), "%s/bz", bundle);
	rtfx_write_text(path, "kernel", 0644);
	e.text[0] = '\0';
	assert_int_not_equal(oci_create(&o, &e), 0);
	assert_non_null(strstr(e.text, "ociVersion"));
}

/* runc's --console-socket: the pty master arrives by SCM_RIGHTS, and
 * what the VM prints comes out of it. */
static void test_console_socket(void **state)
{
	char sock[300], buf[256] = "", cbuf[CMSG_SPACE(sizeof(int))];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) - 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			      .msg_controllen = sizeof(cbuf) };
	struct jc_err e = { "" };
	struct cmsghdr *c;
	int l, s, master;
	size_t got = 0;
	pid_t pid;

	(void)state;
	snprintf(sock, sizeof(sock), "%s/console.sock", rtfx_tmpdir);
	assert_true(strlen(sock) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, sock, strlen(sock) + 1);
	l = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(l >= 0);
	assert_int_equal(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(l, 1), 0);
	pid = create("tty", "[ -t 0 ] && [ -t 1 ] && echo guest-says-hello\nexit 0\n", sock);
	s = accept(l, NULL, NULL);
	assert_true(s >= 0);
	assert_true(recvmsg(s, &msg, 0) > 0);
	assert_non_null(strstr(buf, "/dev/pts/"));
	c = CMSG_FIRSTHDR(&msg);
	assert_non_null(c);
	assert_int_equal(c->cmsg_type, SCM_RIGHTS);
	memcpy(&master, CMSG_DATA(c), sizeof(int));
	close(s);
	close(l);
	assert_int_equal(oci_start(rtfx_root, "tty", &e), 0);
	memset(buf, 0, sizeof(buf));
	while (!strstr(buf, "guest-says-hello") && got < sizeof(buf) - 1) {
		struct pollfd p = { .fd = master, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 5000) <= 0)
			break;
		n = read(master, buf + got, sizeof(buf) - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	assert_non_null(strstr(buf, "guest-says-hello"));
	assert_int_equal(reap(pid), 0);
	close(master);
	delete_vm("tty");
}

static void test_signal_names(void **state)
{
	(void)state;
	assert_int_equal(oci_signal_number("TERM"), SIGTERM);
	assert_int_equal(oci_signal_number("SIGTERM"), SIGTERM);
	assert_int_equal(oci_signal_number("sigkill"), SIGKILL);
	assert_int_equal(oci_signal_number("15"), SIGTERM);
	assert_int_equal(oci_signal_number("9"), SIGKILL);
	assert_int_equal(oci_signal_number("PWR"), SIGPWR);
	assert_int_equal(oci_signal_number("USR1"), SIGUSR1);
	assert_int_equal(oci_signal_number("0"), -EINVAL);
	assert_int_equal(oci_signal_number("65"), -EINVAL);
	assert_int_equal(oci_signal_number("TERMINATE"), -EINVAL);
	assert_int_equal(oci_signal_number("9x"), -EINVAL);
	assert_int_equal(oci_signal_number(""), -EINVAL);
	assert_int_equal(oci_signal_number("-9"), -EINVAL);
}

static void test_exit_mapping(void **state)
{
	char why[160];

	(void)state;
	assert_int_equal(oci_exit_status(AVP_EXIT_POWEROFF << 8, why, sizeof(why)), 0);
	assert_int_equal(oci_exit_status(AVP_EXIT_SIGNAL << 8, why, sizeof(why)), 143);
	assert_int_equal(oci_exit_status(AVP_EXIT_CRASH << 8, why, sizeof(why)), 255);
	assert_non_null(strstr(why, "crashed"));
	assert_int_equal(oci_exit_status(AVP_EXIT_WATCHDOG << 8, why, sizeof(why)), 255);
	assert_non_null(strstr(why, "watchdog"));
	assert_int_equal(oci_exit_status(AVP_EXIT_HOST_ERROR << 8, why, sizeof(why)), 255);
	assert_int_equal(oci_exit_status(AVP_EXIT_REBOOT << 8, why, sizeof(why)), 255);
	assert_int_equal(oci_exit_status(127 << 8, why, sizeof(why)), 255);
	assert_int_equal(oci_exit_status(SIGKILL, why, sizeof(why)), 137);
	assert_non_null(strstr(why, "signal 9"));
}

/* An avp VM for a runc-style caller: restarting reads as running. */
static void test_avp_state_in_oci_shape(void **state)
{
	struct rt_state st;
	struct json_object *o;

	(void)state;
	memset(&st, 0, sizeof(st));
	snprintf(st.id, sizeof(st.id), "vm");
	snprintf(st.bundle, sizeof(st.bundle), "/b");
	st.status = RT_RESTARTING;
	st.monitor.pid = 42;
	o = oci_state_from_rt(&st);
	assert_string_equal(json_object_get_string(json_object_object_get(o, "status")), "running");
	assert_int_equal(json_object_get_int(json_object_object_get(o, "pid")), 42);
	assert_string_equal(json_object_get_string(json_object_object_get(
				    json_object_object_get(o, "annotations"), "org.avp.status")),
			    "restarting");
	assert_non_null(json_object_object_get(o, "org.avp"));
	assert_string_equal(json_object_get_string(json_object_object_get(o, "ociVersion")),
			    OCI_SPEC_VERSION);
	json_object_put(o);
}

/* What a schema cannot say, the parser does. */
static void test_parser_mode_keys(void **state)
{
	static const struct {
		const char *text, *says;
	} bad[] = {
		{ "{\"kernel\": \"bz\", \"vm\": {\"kernel\": {\"path\": \"/bz\"}}}", "ociVersion" },
		{ "{\"kernel\": \"bz\", \"process\": {}}", "ociVersion" },
		{ "{\"ociVersion\": \"1.0.0\", \"kernel\": \"bz\"}", "vm.kernel" },
		{ "{\"ociVersion\": \"1.0.0\"}", "vm.kernel.path" },
		{ "{\"ociVersion\": \"1.0.0\", \"vm\": {\"kernel\": {\"path\": \"/bz\"}, "
		  "\"hypervisor\": {\"path\": \"/usr/bin/qemu-system-x86_64\"}}}", "not avp" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct avp_bundle b;
		struct jc_err e = { "" };

		if (bundle_parse(bad[i].text, strlen(bad[i].text), "/b", &b, &e) == 0) {
			bundle_free(&b);
			fail_msg("the parser accepts %s", bad[i].text);
		}
		if (!strstr(e.text, bad[i].says))
			fail_msg("%s: '%s' does not mention %s", bad[i].text, e.text, bad[i].says);
	}
}

/* The newc archive's entry named name (the last one: later entries win,
 * as in the kernel's unpacking): its data into buf, its mode; -1 absent. */
static long cpio_find(const char *file, const char *name, char *buf, size_t len, unsigned *mode)
{
	static char d[1 << 20];
	long found = -1;
	size_t n, i = 0;
	FILE *f = fopen(file, "rb");

	assert_non_null(f);
	n = fread(d, 1, sizeof(d), f);
	fclose(f);
	while (i + 110 <= n) {
		unsigned long fld[13];
		char hex[9] = "";
		size_t j;

		if (memcmp(d + i, "070701", 6) != 0) {
			i += 4; /* the zeros between two archives */
			continue;
		}
		for (int k = 0; k < 13; k++) {
			memcpy(hex, d + i + 6 + 8 * k, 8);
			fld[k] = strtoul(hex, NULL, 16);
		}
		j = (i + 110 + fld[11] + 3) & ~(size_t)3;
		if (strcmp(d + i + 110, name) == 0) {
			found = (long)fld[6];
			*mode = (unsigned)fld[1];
			memcpy(buf, d + j, fld[6] < len ? fld[6] : len);
		}
		i = (j + fld[6] + 3) & ~(size_t)3;
	}
	return found;
}

/* Fake avp OCI directory (a kernel file and a base archive of one entry)
 * and a bundle whose root.path is a small tree. */
static void make_image_bundle_ex(const char *id, const char *process, bool mounts, char *bundle,
				 size_t len)
{
	char path[PATH_MAX + 64], text[4096], dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s/ocidir", rtfx_tmpdir);
	mkdir(dir, 0755);
	snprintf(path, sizeof(path), "%s/vmlinuz", dir);
	rtfx_write_text(path, "kernel", 0644);
	snprintf(path, sizeof(path), "%s/base.cpio", dir);
	/* avp's part comes first, as built (here 8 bytes that are no entry) */
	rtfx_write_text(path, "BASEBASE", 0644);
	oci_dir_override = strdup(dir);
	snprintf(bundle, len, "%s/img-%s", rtfx_tmpdir, id);
	mkdir(bundle, 0755);
	snprintf(path, sizeof(path), "%s/rootfs", bundle);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/rootfs/bin", bundle);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/rootfs/bin/tool", bundle);
	rtfx_write_text(path, "#!/bin/sh\n", 0755);
	snprintf(path, sizeof(path), "%s/rootfs/bin/link", bundle);
	assert_int_equal(symlink("tool", path), 0);
	snprintf(path, sizeof(path), "%s/hostname", rtfx_tmpdir);
	rtfx_write_text(path, "from-the-engine\n", 0644);
	snprintf(path, sizeof(path), "%s/config.json", bundle);
	if (mounts)
		snprintf(text, sizeof(text),
			 "{\"ociVersion\": \"1.0.2\", \"process\": %s, \"root\": {\"path\": "
			 "\"rootfs\"}, \"hostname\": \"ctr\", \"mounts\": [{\"destination\": "
			 "\"/etc/hostname\", \"type\": \"bind\", \"source\": \"%s/hostname\"}, "
			 "{\"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\"}]}",
			 process, rtfx_tmpdir);
	else /* no mounts, no hostname, no annotations: all optional */
		snprintf(text, sizeof(text),
			 "{\"ociVersion\": \"1.0.2\", \"process\": %s, \"root\": {\"path\": "
			 "\"rootfs\"}}", process);
	rtfx_write_text(path, text, 0644);
}

static void make_image_bundle(const char *id, const char *process, char *bundle, size_t len)
{
	make_image_bundle_ex(id, process, true, bundle, len);
}

/* root.path without vm: create packs the tree, the engine's single-file
 * bind mounts and the process into the initramfs avp run boots. */
static void test_image_packing(void **state)
{
	char bundle[PATH_MAX], path[PATH_MAX + 64], buf[256];
	struct oci_create_opts o = { .root = rtfx_root, .id = "img", .bundle = bundle,
				     .log = &no_log };
	struct jc_err e = { "" };
	unsigned int mode = 0;
	long n;

	(void)state;
	make_image_bundle("img", "{\"args\": [\"tool\", \"x y\"], \"env\": [\"PATH=/bin\"], "
			  "\"cwd\": \"/tmp\", \"user\": {\"uid\": 1000, \"gid\": 100}}",
			  bundle, sizeof(bundle));
	if (oci_create(&o, &e))
		fail_msg("create: %s", e.text);
	snprintf(path, sizeof(path), "%s/img/%s", rtfx_root, OCI_INITRD_FILE);
	{
		FILE *f = fopen(path, "rb");

		assert_non_null(f);
		assert_int_equal(fread(buf, 1, 8, f), 8);
		fclose(f);
		assert_memory_equal(buf, "BASEBASE", 8);
	}
	assert_int_equal(cpio_find(path, "bin/tool", buf, sizeof(buf), &mode), 10);
	assert_int_equal(mode, 0100755);
	assert_int_equal(cpio_find(path, "bin/link", buf, sizeof(buf), &mode), 4);
	assert_int_equal(mode & 0170000, 0120000);
	assert_memory_equal(buf, "tool", 4);
	assert_int_equal(cpio_find(path, "etc/hostname", buf, sizeof(buf), &mode), 16);
	assert_memory_equal(buf, "from-the-engine\n", 16);
	n = cpio_find(path, ".avp/config", buf, sizeof(buf), &mode);
	assert_int_equal(n, (long)sizeof("Atool\0Ax y\0EPATH=/bin\0C/tmp\0U1000\0G100\0Hctr"));
	assert_memory_equal(buf, "Atool\0Ax y\0EPATH=/bin\0C/tmp\0U1000\0G100\0Hctr", (size_t)n);
	assert_int_equal(cpio_find(path, "proc", buf, sizeof(buf), &mode), -1);
	assert_int_equal(oci_delete(rtfx_root, "img", false, &e), 0);
	free((void *)oci_dir_override);
	oci_dir_override = NULL;
}

/* The container's streams with a stand-in for the guest (a script that
 * does what guest/oci-init does over avp's vsock sockets): stdin's data
 * then EOF reach it, stdout and stderr come back apart, and the status
 * it reports is the container's. */
static void test_image_streams(void **state)
{
	static const char guest[] =
		"exec python3 - \"$@\" <<'PY'\n"
		"import socket, sys\n"
		"a = sys.argv[1:]\n"
		"base = a[a.index('--vsock') + 1].split('socket=')[1]\n"
		"def c(p):\n"
		"    s = socket.socket(socket.AF_UNIX)\n"
		"    s.connect('%s_%d' % (base, p))\n"
		"    return s\n"
		"st, i, o, e = c(4), c(1), c(2), c(3)\n"
		"data = b''\n"
		"while True:\n"
		"    b = i.recv(4096)\n"
		"    if not b: break\n"
		"    data += b\n"
		"o.sendall(b'out:' + data); e.sendall(b'err:eof\\n'); o.close(); e.close()\n"
		"st.sendall(b'exit 42\\n'); st.close()\n"
		"PY\n";
	char bundle[PATH_MAX], in[PATH_MAX + 16], out[PATH_MAX + 16], err[PATH_MAX + 16];
	char text[PATH_MAX + 16];
	struct oci_create_opts o = { .root = rtfx_root, .id = "streams", .bundle = bundle,
				     .log = &no_log };
	struct jc_err e = { "" };
	int saved[3], fds[3];
	FILE *f;
	pid_t pid;

	(void)state;
	make_image_bundle_ex("streams", "{\"args\": [\"x\"]}", false, bundle, sizeof(bundle));
	snprintf(in, sizeof(in), "%s/streams.in", rtfx_tmpdir);
	snprintf(out, sizeof(out), "%s/streams.out", rtfx_tmpdir);
	snprintf(err, sizeof(err), "%s/streams.err", rtfx_tmpdir);
	rtfx_write_text(in, "hello", 0644);
	snprintf(text, sizeof(text), "%s/vmm.sh", bundle);
	{
		char body[2048];

		snprintf(body, sizeof(body), "#!/bin/sh\n%s", guest);
		rtfx_write_text(text, body, 0755);
	}
	rt_vmm_program = strdup(text);
	/* The engine's stdio for the container: a file to read, two to fill. */
	fflush(stdout);
	fflush(stderr);
	fds[0] = open(in, O_RDONLY);
	fds[1] = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	fds[2] = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	for (int i = 0; i < 3; i++) {
		saved[i] = dup(i);
		dup2(fds[i], i);
		close(fds[i]);
	}
	pid = oci_create(&o, &e) == 0 ? 1 : 0;
	for (int i = 0; i < 3; i++) {
		dup2(saved[i], i);
		close(saved[i]);
	}
	if (!pid)
		fail_msg("create: %s", e.text);
	{
		struct json_object *st;

		assert_int_equal(oci_state(rtfx_root, "streams", &st, &e), 0);
		pid = json_object_get_int(json_object_object_get(st, "pid"));
		json_object_put(st);
	}
	assert_int_equal(oci_start(rtfx_root, "streams", &e), 0);
	assert_int_equal(reap(pid), 42);
	f = fopen(out, "r");
	assert_non_null(f);
	memset(text, 0, sizeof(text));
	assert_non_null(fgets(text, sizeof(text), f));
	fclose(f);
	assert_string_equal(text, "out:hello");
	f = fopen(err, "r");
	assert_non_null(f);
	assert_non_null(fgets(text, sizeof(text), f));
	fclose(f);
	assert_string_equal(text, "err:eof\n");
	delete_vm("streams");
	free((void *)rt_vmm_program);
	free((void *)oci_dir_override);
	oci_dir_override = NULL;
}

static void test_image_refusals(void **state)
{
	static const char *const bad[] = {
		"{\"args\": []}", "{\"env\": []}", "{\"args\": [1]}",
	};
	char bundle[PATH_MAX], path[PATH_MAX + 16];
	struct oci_create_opts o = { .root = rtfx_root, .bundle = bundle, .log = &no_log };

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct jc_err e = { "" };
		char id[16];

		snprintf(id, sizeof(id), "bad%zu", i);
		o.id = id;
		make_image_bundle(id, bad[i], bundle, sizeof(bundle));
		assert_int_not_equal(oci_create(&o, &e), 0);
		assert_non_null(strstr(e.text, "process.args"));
		snprintf(path, sizeof(path), "%s/%s", rtfx_root, id);
		assert_int_not_equal(access(path, F_OK), 0);
		free((void *)oci_dir_override);
		oci_dir_override = NULL;
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_signal_names),
		cmocka_unit_test(test_exit_mapping),
		cmocka_unit_test(test_avp_state_in_oci_shape),
		cmocka_unit_test(test_parser_mode_keys),
		cmocka_unit_test(test_lifecycle_and_exit_status),
		cmocka_unit_test(test_nothing_runs_before_start),
		cmocka_unit_test(test_kill_running),
		cmocka_unit_test(test_kill_created),
		cmocka_unit_test(test_delete_force),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_console_socket),
		cmocka_unit_test(test_image_packing),
		cmocka_unit_test(test_image_refusals),
		cmocka_unit_test(test_image_streams),
	};

	return cmocka_run_group_tests(tests, rtfx_setup, rtfx_teardown);
}
