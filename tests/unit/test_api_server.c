/* The control-socket server (src/api/server.c) on a real Unix socket in a
 * temporary directory, serving a VM made without KVM (as --describe
 * does): status, errors, limits, many clients, and the avp api client. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "avp/api.h"
#include "avp/chardev.h"
#include "avp/cli.h"
#include "avp/log.h"
#include "avp/vm.h"

struct fixture {
	char dir[64];
	char path[128];
	struct avp_config cfg;
	struct vm vm;
	struct api_server *srv;
	unsigned int echo_calls;
};

/* A device command: echoes its args, or fails when asked to. */
static int echo_cmd(void *opaque, json_object *args, json_object *reply)
{
	struct fixture *f = opaque;
	json_object *v;

	f->echo_calls++;
	if (args && json_object_object_get_ex(args, "fail", &v)) {
		json_object_object_add(reply, "error", json_object_new_string("asked to fail"));
		return -EINVAL;
	}
	if (args && json_object_object_get_ex(args, "fail_quietly", &v))
		return -EIO;
	if (args && json_object_object_get_ex(args, "flip", &v))
		json_object_object_add(reply, "ok", json_object_new_boolean(0));
	json_object_object_add(reply, "echo", args ? json_object_get(args) : NULL);
	return 0;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	avp_log_set_level(AVP_LOG_ERROR);
	strcpy(f->dir, "/tmp/avp-api-test.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/api.sock", f->dir);
	avp_config_init(&f->cfg);
	f->cfg.describe = true; /* no KVM */
	f->cfg.cpus = 3;
	assert_int_equal(vm_create(&f->vm, &f->cfg), 0);
	assert_int_equal(vm_api_register(&f->vm, "echo", echo_cmd, f), 0);
	assert_int_equal(api_server_create(&f->srv, &f->vm, f->path), 0);
	assert_int_equal(api_server_start(f->srv), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	struct stat st;

	api_server_destroy(f->srv);
	/* the socket file goes with the server */
	assert_int_not_equal(stat(f->path, &st), 0);
	vm_destroy(&f->vm);
	rmdir(f->dir);
	free(f);
	return 0;
}

static int client(const struct fixture *f)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	strcpy(a.sun_path, f->path);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

static void send_text(int fd, const char *text, size_t len)
{
	while (len) {
		ssize_t n = send(fd, text, len, MSG_NOSIGNAL);

		assert_true(n > 0);
		text += n;
		len -= (size_t)n;
	}
}

/* One reply line (newline removed), or NULL at EOF; waits up to 5 s. */
static char *read_line(int fd)
{
	static char buf[1 << 16];
	size_t len = 0;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 5000) != 1)
			fail_msg("no reply within 5 s");
		n = recv(fd, buf + len, 1, 0); /* bytewise: never eat the next line */
		if (n <= 0)
			return NULL;
		if (buf[len] == '\n') {
			buf[len] = 0;
			return buf;
		}
		len++;
		assert_true(len < sizeof(buf));
	}
}

/* Sends one request line, returns the parsed reply (caller puts it). */
static json_object *ask(int fd, const char *req)
{
	char *line;
	json_object *r;

	send_text(fd, req, strlen(req));
	send_text(fd, "\n", 1);
	line = read_line(fd);
	assert_non_null(line);
	r = json_tokener_parse(line);
	assert_non_null(r);
	return r;
}

static bool reply_ok(json_object *r)
{
	json_object *v;

	return json_object_object_get_ex(r, "ok", &v) && json_object_get_boolean(v);
}

static const char *reply_str(json_object *r, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(r, key, &v) ? json_object_get_string(v) : "";
}

static void test_status(void **state)
{
	struct fixture *f = *state;
	int fd = client(f);
	json_object *r = ask(fd, "{\"cmd\":\"status\",\"id\":1}"), *v;
	bool has_echo = false;

	assert_true(reply_ok(r));
	assert_string_equal(reply_str(r, "state"), "running");
	assert_true(json_object_object_get_ex(r, "vcpus", &v));
	assert_int_equal(json_object_get_int(v), 3);
	assert_true(json_object_object_get_ex(r, "id", &v));
	assert_int_equal(json_object_get_int(v), 1);
	assert_true(json_object_object_get_ex(r, "uptime_ms", &v));
	assert_true(json_object_object_get_ex(r, "devices", &v));
	assert_true(json_object_is_type(v, json_type_array));
	assert_true(json_object_object_get_ex(r, "commands", &v));
	for (size_t i = 0; i < json_object_array_length(v); i++)
		has_echo |= !strcmp(json_object_get_string(json_object_array_get_idx(v, i)), "echo");
	assert_true(has_echo);
	/* No pty or socket console here: an empty list. */
	assert_true(json_object_object_get_ex(r, "consoles", &v));
	assert_int_equal(json_object_array_length(v), 0);
	json_object_put(r);
	close(fd);
}

/* A pty console's path is in status (issue 13 item 14): it is only known
 * once avp opened it. */
static void test_status_lists_pty(void **state)
{
	struct fixture *f = *state;
	struct avp_chardev_cfg cfg = { .kind = AVP_CHR_PTY };
	struct chardev *chr;
	int fd = client(f);
	json_object *r, *v, *c;

	assert_int_equal(chardev_open_named(&chr, &cfg, false, "serial", NULL), 0);
	r = ask(fd, "{\"cmd\":\"status\"}");
	assert_true(reply_ok(r));
	assert_true(json_object_object_get_ex(r, "consoles", &v));
	assert_int_equal(json_object_array_length(v), 1);
	c = json_object_array_get_idx(v, 0);
	assert_string_equal(reply_str(c, "device"), "serial");
	assert_string_equal(reply_str(c, "backend"), "pty");
	assert_memory_equal(reply_str(c, "path"), "/dev/pts/", 9);
	assert_string_equal(reply_str(c, "connected"), "false");
	json_object_put(r);
	chardev_close(chr);
	close(fd);
}

/* Guest-triggered warnings are counted, shown or not (issue 13 item 19). */
static void test_status_counts_guest_warnings(void **state)
{
	struct fixture *f = *state;
	int fd = client(f), level = avp_log_get_level();
	json_object *r, *w, *v;

	avp_guest_warn_reset();
	avp_log_set_level(AVP_LOG_ERROR); /* keep the output readable */
	for (int i = 0; i < AVP_GUEST_WARN_BURST + 7; i++)
		avp_guest_warn(f, "test: the guest broke something (%d)", i);
	avp_log_set_level((enum avp_log_level)level);
	r = ask(fd, "{\"cmd\":\"status\"}");
	assert_true(reply_ok(r));
	assert_true(json_object_object_get_ex(r, "guest_warnings", &w));
	assert_true(json_object_object_get_ex(w, "total", &v));
	assert_int_equal(json_object_get_int64(v), AVP_GUEST_WARN_BURST + 7);
	assert_true(json_object_object_get_ex(w, "not_shown", &v));
	assert_int_equal(json_object_get_int64(v), 7);
	json_object_put(r);
	close(fd);
	avp_guest_warn_reset();
}

static void test_garbage_and_unknown(void **state)
{
	struct fixture *f = *state;
	int fd = client(f);
	json_object *r;

	r = ask(fd, "this is not json");
	assert_false(reply_ok(r));
	assert_non_null(strstr(reply_str(r, "error"), "JSON"));
	json_object_put(r);
	r = ask(fd, "{\"cmd\":\"frobnicate\"}");
	assert_false(reply_ok(r));
	assert_non_null(strstr(reply_str(r, "error"), "unknown command"));
	json_object_put(r);
	r = ask(fd, "{\"cmd\":\"status\",\"args\":7}");
	assert_false(reply_ok(r));
	json_object_put(r);
	/* binary junk with a newline is just another bad request */
	send_text(fd, "\x00\xff\xfe\x01\n", 5);
	r = json_tokener_parse(read_line(fd));
	assert_false(reply_ok(r));
	json_object_put(r);
	/* the connection still works */
	r = ask(fd, "{\"cmd\":\"status\"}");
	assert_true(reply_ok(r));
	json_object_put(r);
	close(fd);
}

static void test_device_commands(void **state)
{
	struct fixture *f = *state;
	int fd = client(f);
	json_object *r, *v;

	r = ask(fd, "{\"cmd\":\"echo\",\"args\":{\"a\":[1,2]}}");
	assert_true(reply_ok(r));
	assert_true(json_object_object_get_ex(r, "echo", &v));
	assert_true(json_object_object_get_ex(v, "a", &v));
	assert_int_equal(json_object_array_length(v), 2);
	json_object_put(r);

	r = ask(fd, "{\"cmd\":\"echo\",\"args\":{\"fail\":1}}");
	assert_false(reply_ok(r));
	assert_string_equal(reply_str(r, "error"), "asked to fail");
	json_object_put(r);

	r = ask(fd, "{\"cmd\":\"echo\",\"args\":{\"fail_quietly\":1}}");
	assert_false(reply_ok(r));
	assert_string_equal(reply_str(r, "error"), strerror(EIO));
	json_object_put(r);

	/* the outcome is the return value's, not the handler's "ok" */
	r = ask(fd, "{\"cmd\":\"echo\",\"args\":{\"flip\":1}}");
	assert_true(reply_ok(r));
	json_object_put(r);
	assert_int_equal(f->echo_calls, 4);
	close(fd);
}

static void test_pipelined_and_unterminated(void **state)
{
	struct fixture *f = *state;
	int fd = client(f);
	static const char two[] = "{\"cmd\":\"status\",\"id\":\"a\"}\r\n\n{\"cmd\":\"echo\",\"id\":\"b\"}\n"
				  "{\"cmd\":\"echo\",\"id\":\"c\"}";
	json_object *r;

	send_text(fd, two, sizeof(two) - 1);
	shutdown(fd, SHUT_WR); /* the last line has no newline */
	r = json_tokener_parse(read_line(fd));
	assert_string_equal(reply_str(r, "id"), "a");
	json_object_put(r);
	r = json_tokener_parse(read_line(fd));
	assert_string_equal(reply_str(r, "id"), "b");
	json_object_put(r);
	r = json_tokener_parse(read_line(fd));
	assert_string_equal(reply_str(r, "id"), "c");
	assert_true(reply_ok(r));
	json_object_put(r);
	assert_null(read_line(fd)); /* and then the server hangs up */
	close(fd);
}

static void test_oversized(void **state)
{
	struct fixture *f = *state;
	int fd = client(f);
	size_t n = API_MAX_REQUEST + 100;
	char *big = malloc(n);
	json_object *r;
	char *line;

	assert_non_null(big);
	memset(big, 'x', n);
	/* the server may hang up before it has read everything */
	for (size_t off = 0; off < n;) {
		ssize_t k = send(fd, big + off, n - off, MSG_NOSIGNAL);

		if (k <= 0)
			break;
		off += (size_t)k;
	}
	line = read_line(fd);
	assert_non_null(line);
	r = json_tokener_parse(line);
	assert_false(reply_ok(r));
	assert_non_null(strstr(reply_str(r, "error"), "too long"));
	json_object_put(r);
	assert_null(read_line(fd)); /* disconnected */
	close(fd);
	free(big);

	/* a request of exactly the limit is served */
	fd = client(f);
	big = malloc(API_MAX_REQUEST + 1);
	memset(big, ' ', API_MAX_REQUEST);
	memcpy(big, "{\"cmd\":\"status\"}", 16);
	big[API_MAX_REQUEST] = '\n';
	send_text(fd, big, API_MAX_REQUEST + 1);
	r = json_tokener_parse(read_line(fd));
	assert_true(reply_ok(r));
	json_object_put(r);
	close(fd);
	free(big);
}

static void test_many_clients(void **state)
{
	struct fixture *f = *state;
	int fds[API_MAX_CLIENTS + 1];
	json_object *r;
	char *line;

	for (int i = 0; i < API_MAX_CLIENTS; i++)
		fds[i] = client(f);
	/* all are served, in any order of asking */
	for (int i = API_MAX_CLIENTS - 1; i >= 0; i--) {
		char req[64];

		snprintf(req, sizeof(req), "{\"cmd\":\"status\",\"id\":%d}", i);
		r = ask(fds[i], req);
		assert_true(reply_ok(r));
		json_object_put(r);
	}
	/* one too many: told so, then closed */
	fds[API_MAX_CLIENTS] = client(f);
	line = read_line(fds[API_MAX_CLIENTS]);
	assert_non_null(line);
	assert_non_null(strstr(line, "too many"));
	assert_null(read_line(fds[API_MAX_CLIENTS]));
	close(fds[API_MAX_CLIENTS]);
	/* a freed slot is usable again */
	close(fds[0]);
	usleep(100 * 1000);
	fds[0] = client(f);
	r = ask(fds[0], "{\"cmd\":\"status\"}");
	assert_true(reply_ok(r));
	json_object_put(r);
	for (int i = 0; i < API_MAX_CLIENTS; i++)
		close(fds[i]);
}

/* A client that floods requests and never reads its replies must not
 * stop the server (or make it buffer without end). */
static void test_non_reader(void **state)
{
	struct fixture *f = *state;
	int hog = client(f), fd;
	char chunk[4096];
	size_t sent = 0;
	json_object *r;

	fcntl(hog, F_SETFL, O_NONBLOCK);
	for (size_t i = 0; i + 17 <= sizeof(chunk); i += 17)
		memcpy(chunk + i, "{\"cmd\":\"status\"}\n", 17);
	for (int i = 0; i < 4096; i++) {
		ssize_t n = send(hog, chunk, sizeof(chunk) / 17 * 17, MSG_NOSIGNAL);

		if (n <= 0)
			break; /* the server stopped reading us: good */
		sent += (size_t)n;
	}
	assert_true(sent < 4096u * 4096u);
	fd = client(f);
	r = ask(fd, "{\"cmd\":\"status\"}");
	assert_true(reply_ok(r));
	json_object_put(r);
	close(fd);
	close(hog);
}

static void test_kill_and_shutdown(void **state)
{
	struct fixture *f = *state;
	int fd = client(f);
	json_object *r;

	/* no KVM here: the button cannot be pressed, and says so */
	r = ask(fd, "{\"cmd\":\"shutdown\"}");
	assert_false(reply_ok(r));
	assert_non_null(strstr(reply_str(r, "error"), "power button"));
	json_object_put(r);
	r = ask(fd, "{\"cmd\":\"shutdown\",\"args\":{\"timeout\":-1}}");
	assert_false(reply_ok(r));
	assert_non_null(strstr(reply_str(r, "error"), "timeout"));
	json_object_put(r);
	r = ask(fd, "{\"cmd\":\"shutdown\",\"args\":{\"timeout\":\"soon\"}}");
	assert_false(reply_ok(r));
	json_object_put(r);
	assert_int_equal(atomic_load(&f->vm.exit_reason), VM_EXIT_NONE);

	r = ask(fd, "{\"cmd\":\"kill\"}");
	assert_true(reply_ok(r));
	json_object_put(r);
	assert_int_equal(atomic_load(&f->vm.exit_reason), VM_EXIT_SIGNAL);
	r = ask(fd, "{\"cmd\":\"status\"}");
	assert_string_equal(reply_str(r, "state"), "stopping");
	json_object_put(r);
	close(fd);
}

static void test_socket_path_rules(void **state)
{
	struct fixture *f = *state;
	struct api_server *other = NULL;
	char path[160];
	int fd, sfd;
	struct sockaddr_un a = { .sun_family = AF_UNIX };

	/* a live server keeps its path */
	assert_int_equal(api_server_create(&other, &f->vm, f->path), -EADDRINUSE);
	/* a regular file is never replaced */
	snprintf(path, sizeof(path), "%s/file", f->dir);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(api_server_create(&other, &f->vm, path), -EEXIST);
	unlink(path);
	/* a stale socket (nobody listening) is */
	snprintf(path, sizeof(path), "%s/stale", f->dir);
	sfd = socket(AF_UNIX, SOCK_STREAM, 0);
	strcpy(a.sun_path, path);
	assert_int_equal(bind(sfd, (struct sockaddr *)&a, sizeof(a)), 0);
	close(sfd);
	assert_int_equal(api_server_create(&other, &f->vm, path), 0);
	api_server_destroy(other);
	/* too long for sun_path */
	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = 0;
	assert_int_equal(api_server_create(&other, &f->vm, path), -ENAMETOOLONG);
}

static int run_client(struct fixture *f, const char *cmd, const char *args, char *out, size_t outlen)
{
	char *argv[8];
	int argc = 0, ret;
	FILE *o = fmemopen(out, outlen, "w");
	FILE *e = fopen("/dev/null", "w");

	argv[argc++] = "api";
	argv[argc++] = "--api-sock";
	argv[argc++] = f->path;
	if (cmd)
		argv[argc++] = (char *)cmd;
	if (args)
		argv[argc++] = (char *)args;
	argv[argc] = NULL;
	ret = api_client_main(argc, argv, o, e);
	fclose(o);
	fclose(e);
	return ret;
}

static void test_cli_client(void **state)
{
	struct fixture *f = *state;
	char out[8192];

	memset(out, 0, sizeof(out));
	assert_int_equal(run_client(f, "status", NULL, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "\"state\":\"running\""));
	memset(out, 0, sizeof(out));
	assert_int_equal(run_client(f, "echo", "{\"x\":1}", out, sizeof(out)), 0);
	assert_non_null(strstr(out, "\"echo\":{\"x\":1}"));
	assert_int_equal(run_client(f, "nope", NULL, out, sizeof(out)), 2);
	assert_int_equal(run_client(f, "echo", "{bad json", out, sizeof(out)), 1);
	assert_int_equal(run_client(f, "echo", "[1]", out, sizeof(out)), 1);
	assert_int_equal(run_client(f, NULL, NULL, out, sizeof(out)), 1);
	strcat(f->path, ".missing");
	assert_int_equal(run_client(f, "status", NULL, out, sizeof(out)), 4);
	f->path[strlen(f->path) - 8] = 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_status_lists_pty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status_counts_guest_warnings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage_and_unknown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_device_commands, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pipelined_and_unterminated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversized, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_clients, setup, teardown),
		cmocka_unit_test_setup_teardown(test_non_reader, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kill_and_shutdown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_socket_path_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cli_client, setup, teardown),
	};

	return cmocka_run_group_tests_name("api_server", tests, NULL, NULL);
}
