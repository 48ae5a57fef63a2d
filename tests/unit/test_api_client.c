/* The shared line client (src/api/client.c) against a scripted peer on a
 * real Unix socket in a temporary directory: a reply, a peer that closes
 * early, reply-length limits, timeouts at each step, nobody listening. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "avp/api_client.h"

/* What the peer does once it has accepted the connection. */
enum peer_act {
	PEER_REPLY,	     /* read the request line, send `reply` */
	PEER_CLOSE,	     /* read the request line, send `reply` (may be ""), close */
	PEER_SILENT,	     /* read the request line, then say nothing until told */
	PEER_NO_READ,	     /* read nothing, say nothing until told */
};

struct peer {
	char dir[64];
	char path[128];
	int listen_fd;
	int stop_fd[2]; /* the test writes here to end a silent peer */
	enum peer_act act;
	const char *reply;
	char request[256];
	pthread_t thread;
};

/* MSG_NOSIGNAL: the client may hang up first (a reply too long). */
static void write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n <= 0)
			return;
		p += n;
		len -= (size_t)n;
	}
}

static void *peer_main(void *arg)
{
	struct peer *p = arg;
	size_t have = 0;
	char c;
	int fd = accept(p->listen_fd, NULL, NULL);

	if (fd < 0)
		return NULL;
	if (p->act != PEER_NO_READ) {
		/* Byte by byte up to the newline: leave nothing unread, so
		 * closing does not turn into a reset. */
		while (have + 1 < sizeof(p->request) && read(fd, &c, 1) == 1) {
			p->request[have++] = c;
			if (c == '\n')
				break;
		}
	}
	if (p->act == PEER_REPLY || p->act == PEER_CLOSE)
		write_all(fd, p->reply, strlen(p->reply));
	if (p->act == PEER_SILENT || p->act == PEER_NO_READ || p->act == PEER_REPLY)
		(void)!read(p->stop_fd[0], &c, 1);
	close(fd);
	return NULL;
}

static int setup(void **state)
{
	struct peer *p = calloc(1, sizeof(*p));
	struct sockaddr_un addr = { .sun_family = AF_UNIX };

	assert_non_null(p);
	strcpy(p->dir, "/tmp/avp-client-test.XXXXXX");
	assert_non_null(mkdtemp(p->dir));
	snprintf(p->path, sizeof(p->path), "%s/peer.sock", p->dir);
	strcpy(addr.sun_path, p->path);
	p->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(p->listen_fd >= 0);
	assert_int_equal(bind(p->listen_fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	assert_int_equal(listen(p->listen_fd, 0), 0);
	assert_int_equal(pipe(p->stop_fd), 0);
	*state = p;
	return 0;
}

static int teardown(void **state)
{
	struct peer *p = *state;

	close(p->listen_fd);
	close(p->stop_fd[0]);
	close(p->stop_fd[1]);
	unlink(p->path);
	rmdir(p->dir);
	free(p);
	return 0;
}

static void peer_start(struct peer *p, enum peer_act act, const char *reply)
{
	p->act = act;
	p->reply = reply;
	memset(p->request, 0, sizeof(p->request));
	assert_int_equal(pthread_create(&p->thread, NULL, peer_main, p), 0);
}

static void peer_join(struct peer *p)
{
	if (p->act == PEER_SILENT || p->act == PEER_NO_READ || p->act == PEER_REPLY)
		assert_int_equal(write(p->stop_fd[1], "x", 1), 1);
	pthread_join(p->thread, NULL);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_reply(void **state)
{
	struct peer *p = *state;
	enum api_client_step step = API_CLIENT_CONNECT;
	char *reply;

	/* The reply up to its newline; what follows it is not ours. */
	peer_start(p, PEER_REPLY, "{\"ok\":true}\nmore\n");
	assert_int_equal(api_client_request(p->path, "{\"cmd\":\"status\"}", 64, 5000, &reply,
					    &step), 0);
	peer_join(p);
	assert_string_equal(p->request, "{\"cmd\":\"status\"}\n");
	assert_string_equal(reply, "{\"ok\":true}");
	assert_int_equal(step, API_CLIENT_RECEIVE);
	free(reply);
}

static void test_peer_closes_early(void **state)
{
	struct peer *p = *state;
	enum api_client_step step;
	char *reply = (char *)1;

	peer_start(p, PEER_CLOSE, "");
	assert_int_equal(api_client_request(p->path, "x", 64, 5000, &reply, &step), -ECONNRESET);
	peer_join(p);
	assert_int_equal(step, API_CLIENT_RECEIVE);
	assert_null(reply);
	/* Half a line and then gone is no reply either. */
	peer_start(p, PEER_CLOSE, "{\"ok\":tr");
	assert_int_equal(api_client_request(p->path, "x", 64, 5000, &reply, &step), -ECONNRESET);
	peer_join(p);
	assert_null(reply);
}

static void test_reply_length_limit(void **state)
{
	struct peer *p = *state;
	size_t max = 10000; /* beyond the first buffer, so the growth is covered */
	char *line = malloc(max + 2), *reply;
	enum api_client_step step;

	assert_non_null(line);
	/* Exactly max bytes with the newline: taken whole. */
	memset(line, 'a', max - 1);
	line[max - 1] = '\n';
	line[max] = '\0';
	peer_start(p, PEER_CLOSE, line);
	assert_int_equal(api_client_request(p->path, "x", max, 5000, &reply, &step), 0);
	peer_join(p);
	assert_int_equal(strlen(reply), max - 1);
	free(reply);
	/* One byte more: refused, without waiting for the rest. */
	memset(line, 'a', max);
	line[max] = '\n';
	line[max + 1] = '\0';
	peer_start(p, PEER_CLOSE, line);
	assert_int_equal(api_client_request(p->path, "x", max, 5000, &reply, &step), -EMSGSIZE);
	peer_join(p);
	assert_int_equal(step, API_CLIENT_RECEIVE);
	assert_null(reply);
	/* A tiny limit, under the first buffer. */
	peer_start(p, PEER_CLOSE, "12345\n");
	assert_int_equal(api_client_request(p->path, "x", 5, 5000, &reply, &step), -EMSGSIZE);
	peer_join(p);
	free(line);
}

static void test_reply_timeout(void **state)
{
	struct peer *p = *state;
	enum api_client_step step;
	long long t0 = now_ms(), took;
	char *reply;

	peer_start(p, PEER_SILENT, NULL);
	assert_int_equal(api_client_request(p->path, "x", 64, 200, &reply, &step), -ETIMEDOUT);
	took = now_ms() - t0;
	peer_join(p);
	assert_int_equal(step, API_CLIENT_RECEIVE);
	assert_string_equal(p->request, "x\n");
	assert_true(took >= 200 && took < 5000);
}

static void test_send_timeout(void **state)
{
	struct peer *p = *state;
	size_t big = 8u << 20; /* more than any socket buffer holds */
	char *line = malloc(big + 1), *reply;
	enum api_client_step step;
	long long t0 = now_ms(), took;

	assert_non_null(line);
	memset(line, 'a', big);
	line[big] = '\0';
	peer_start(p, PEER_NO_READ, NULL);
	assert_int_equal(api_client_request(p->path, line, 64, 200, &reply, &step), -ETIMEDOUT);
	took = now_ms() - t0;
	peer_join(p);
	assert_int_equal(step, API_CLIENT_SEND);
	assert_true(took >= 200 && took < 5000);
	free(line);
}

static void test_connect_timeout(void **state)
{
	struct peer *p = *state;
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	enum api_client_step step;
	int fillers[4], n = 0, ret;
	long long t0, took;
	char *reply;

	/* Nobody accepts and the backlog (0: one pending connection) is
	 * full: connect would block for good without a bound. */
	strcpy(addr.sun_path, p->path);
	fillers[n] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	assert_int_equal(connect(fillers[n], (struct sockaddr *)&addr, sizeof(addr)), 0);
	n++;
	/* Some kernels take one more before they refuse: fill to the brim. */
	for (;;) {
		assert_true(n < 4);
		fillers[n] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
		ret = connect(fillers[n], (struct sockaddr *)&addr, sizeof(addr));
		if (ret < 0) {
			assert_int_equal(errno, EAGAIN);
			close(fillers[n]);
			break;
		}
		n++;
	}
	t0 = now_ms();
	assert_int_equal(api_client_request(p->path, "x", 64, 200, &reply, &step), -ETIMEDOUT);
	took = now_ms() - t0;
	assert_int_equal(step, API_CLIENT_CONNECT);
	assert_true(took >= 150 && took < 5000);
	while (n--)
		close(fillers[n]);
}

static void test_nobody_listens(void **state)
{
	struct peer *p = *state;
	enum api_client_step step = API_CLIENT_RECEIVE;
	char path[200], *reply;

	snprintf(path, sizeof(path), "%s/missing.sock", p->dir);
	assert_int_equal(api_client_request(path, "x", 64, 1000, &reply, &step), -ENOENT);
	assert_int_equal(step, API_CLIENT_CONNECT);
	/* A socket file left behind: refused. */
	close(p->listen_fd);
	p->listen_fd = -1;
	assert_int_equal(api_client_request(p->path, "x", 64, 1000, &reply, &step), -ECONNREFUSED);
	assert_int_equal(step, API_CLIENT_CONNECT);
	/* Too long for a socket address. */
	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	assert_int_equal(api_client_request(path, "x", 64, 1000, &reply, &step), -ENAMETOOLONG);
	assert_int_equal(step, API_CLIENT_CONNECT);
	assert_null(reply);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reply, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_closes_early, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reply_length_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reply_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_send_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connect_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nobody_listens, setup, teardown),
	};

	return cmocka_run_group_tests_name("api_client", tests, NULL, NULL);
}
