/* Talking to a runtime VM (issue 13 item 14), with a real detached monitor
 * and a shell script standing in for the VM process (as in
 * test_runtime_start.c): `avp attach` reaches the VM's standard I/O
 * through ROOT/ID/console.sock while console.log keeps everything, one
 * client at a time, Ctrl-] q detaches; `avp api ID` finds ROOT/ID/api.sock;
 * both say so when the VM is not running. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "avp/cli.h"
#include "avp/runtime/cli.h"
#include "avp/runtime/lifecycle.h"
#include "avp/runtime/monitor.h"
#include "avp/runtime/state.h"
#include "support/rt_fixture.h"

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void create_vm(const char *id, const char *body)
{
	rtfx_create_vm(id, "{\"kernel\": \"bz\"}", body, 0);
}

static int connect_to(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		fail_msg("connect %s: %s", path, strerror(errno));
	return fd;
}

/* Reads fd until what came contains text (3 s at most). */
static void expect_text(int fd, const char *text)
{
	char seen[8192];
	size_t got = 0;
	int64_t deadline = now_ms() + 3000;

	seen[0] = '\0';
	while (!strstr(seen, text)) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (now_ms() > deadline)
			fail_msg("no '%s' in '%s'", text, seen);
		if (poll(&pfd, 1, 50) <= 0)
			continue;
		n = read(fd, seen + got, sizeof(seen) - 1 - got);
		if (n <= 0)
			fail_msg("closed before '%s' (got '%s')", text, seen);
		got += (size_t)n;
		seen[got] = '\0';
	}
}

static bool file_has(const char *path, const char *text)
{
	char buf[16384];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return strstr(buf, text) != NULL;
}

struct relay_run {
	int sock, in, out, ret;
};

static void *relay_thread(void *arg)
{
	struct relay_run *r = arg;

	r->ret = cli_attach_relay(r->sock, r->in, r->out);
	return NULL;
}

/* The VM process is `cat`: what the client types comes back as output. */
static void test_attach_console(void **state)
{
	struct jc_err e = { "" };
	char sock[PATH_MAX], logp[PATH_MAX], buf[256];
	int in[2], out[2], other;
	struct relay_run r;
	pthread_t t;
	ssize_t n;
	struct stat st;

	(void)state;
	create_vm("echo", RTFX_MARK "exec cat\n");
	/* Not started yet: nothing to attach to. */
	assert_int_equal(rt_vm_socket(rtfx_root, "echo", "console.sock", sock, sizeof(sock), &e),
			 -ESRCH);
	assert_non_null(strstr(e.text, "is not running (created)"));
	assert_int_equal(rt_start(rtfx_root, "echo", 10, &e), 0);
	assert_int_equal(rt_vm_socket(rtfx_root, "echo", "console.sock", sock, sizeof(sock), &e), 0);
	assert_int_equal(lstat(sock, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	assert_int_equal(pipe(in), 0);
	assert_int_equal(pipe(out), 0);
	r = (struct relay_run){ .sock = connect_to(sock), .in = in[0], .out = out[1], .ret = -1 };
	assert_int_equal(pthread_create(&t, NULL, relay_thread, &r), 0);
	assert_int_equal(write(in[1], "ping-1\n", 7), 7);
	expect_text(out[0], "ping-1");

	/* One client at a time: the second is told and let go. */
	other = connect_to(sock);
	expect_text(other, "already has a client attached");
	n = read(other, buf, sizeof(buf));
	assert_int_equal(n, 0);
	close(other);

	/* Ctrl-] Ctrl-] is one Ctrl-]; Ctrl-] q detaches. */
	assert_int_equal(write(in[1], "a\x1d\x1d" "b\n", 5), 5);
	expect_text(out[0], "a\x1d" "b");
	assert_int_equal(write(in[1], "\x1dq", 2), 2);
	pthread_join(t, NULL);
	assert_int_equal(r.ret, CLI_ATTACH_DETACHED);
	close(r.sock);

	/* console.log has it all, and the console is free again. */
	assert_int_equal(rt_path(logp, sizeof(logp), rtfx_root, "echo", "console.log"), 0);
	assert_true(file_has(logp, "ping-1"));
	other = connect_to(sock);
	assert_int_equal(send(other, "again\n", 6, 0), 6);
	expect_text(other, "again");
	close(other);

	close(in[0]);
	close(in[1]);
	close(out[0]);
	close(out[1]);
	assert_int_equal(rt_kill(rtfx_root, "echo", "KILL", 10, &e), 0);
	e.text[0] = '\0';
	assert_int_equal(rt_vm_socket(rtfx_root, "echo", "console.sock", sock, sizeof(sock), &e),
			 -ESRCH);
	assert_non_null(strstr(e.text, "is not running (stopped)"));
	assert_int_equal(cli_attach(rtfx_root, "echo", stderr), 1);
	assert_int_equal(rt_delete(rtfx_root, "echo", true, &e), 0);
}

/* The VM's side closing ends the relay: the VM stopped. */
static void test_relay_closed(void **state)
{
	int sv[2], in[2], out[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(pipe(in), 0);
	assert_int_equal(pipe(out), 0);
	assert_int_equal(send(sv[1], "bye", 3, 0), 3);
	close(sv[1]);
	assert_int_equal(cli_attach_relay(sv[0], in[0], out[1]), CLI_ATTACH_CLOSED);
	expect_text(out[0], "bye");
	close(sv[0]);
	close(in[0]);
	close(in[1]);
	close(out[0]);
	close(out[1]);
}

struct fake_api {
	int lfd;
	char request[512];
};

/* Answers one request on the VM's api.sock as the VM process would. */
static void *fake_api_thread(void *arg)
{
	struct fake_api *f = arg;
	int c = accept(f->lfd, NULL, NULL);
	size_t got = 0;

	if (c < 0)
		return NULL;
	while (got + 1 < sizeof(f->request) && !memchr(f->request, '\n', got)) {
		ssize_t n = read(c, f->request + got, sizeof(f->request) - 1 - got);

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	(void)!write(c, "{\"ok\":true,\"state\":\"running\"}\n", 30);
	close(c);
	return NULL;
}

static void test_api_by_id(void **state)
{
	struct jc_err e = { "" };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct fake_api f = { .lfd = -1 };
	char path[sizeof(sa.sun_path)], outbuf[512] = "", errbuf[512] = "";
	pthread_t t;
	FILE *out, *err;
	int ret;

	(void)state;
	create_vm("apivm", RTFX_MARK "exec sleep 60\n");
	/* Not running: said, exit status 4 (unreachable). */
	err = fmemopen(errbuf, sizeof(errbuf), "w");
	out = fmemopen(outbuf, sizeof(outbuf), "w");
	ret = api_client_main(5, (char *[]){ "api", "apivm", "--root", rtfx_root, "status", NULL },
			      out, err);
	fclose(err);
	fclose(out);
	assert_int_equal(ret, 4);
	if (!strstr(errbuf, "is not running"))
		fail_msg("api on a created VM: '%s'", errbuf);

	assert_int_equal(rt_start(rtfx_root, "apivm", 10, &e), 0);
	/* The stand-in VM process serves no api.sock: this test does. */
	assert_int_equal(rt_vm_socket(rtfx_root, "apivm", "api.sock", path, sizeof(path), &e), 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	f.lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(f.lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(f.lfd, 2), 0);
	for (int form = 0; form < 2; form++) {
		char *id_first[] = { "api", "apivm", "--root", rtfx_root, "status", NULL };
		char *with_vm[] = { "api", "--vm", "apivm", "--root", rtfx_root, "status", NULL };

		memset(outbuf, 0, sizeof(outbuf));
		memset(f.request, 0, sizeof(f.request));
		assert_int_equal(pthread_create(&t, NULL, fake_api_thread, &f), 0);
		out = fmemopen(outbuf, sizeof(outbuf), "w");
		err = fmemopen(errbuf, sizeof(errbuf), "w");
		ret = form ? api_client_main(6, with_vm, out, err)
			   : api_client_main(5, id_first, out, err);
		fclose(out);
		fclose(err);
		pthread_join(t, NULL);
		assert_int_equal(ret, 0);
		assert_non_null(strstr(f.request, "\"cmd\":\"status\""));
		assert_non_null(strstr(outbuf, "\"state\":\"running\""));
	}
	close(f.lfd);

	/* Both forms at once, or --root with a socket path: usage errors. */
	err = fmemopen(errbuf, sizeof(errbuf), "w");
	assert_int_equal(api_client_main(5, (char *[]){ "api", "--vm", "apivm", "--api-sock",
							"/x", "status", NULL },
					 stdout, err),
			 1);
	assert_int_equal(api_client_main(6, (char *[]){ "api", "--api-sock", "/x", "--root", rtfx_root,
							"status", NULL },
					 stdout, err),
			 1);
	fclose(err);
	assert_int_equal(rt_delete(rtfx_root, "apivm", true, &e), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_relay_closed),
		cmocka_unit_test(test_attach_console),
		cmocka_unit_test(test_api_by_id),
	};

	return cmocka_run_group_tests(tests, rtfx_setup, rtfx_teardown);
}
