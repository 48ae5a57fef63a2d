/* The device timer's thread carries its name (ps -L, tests/realguest/jail.sh
 * tell the platform devices' threads by it), also in the jailed VM process,
 * which is PID 1 of its own PID namespace under the host's /proc: there a
 * name given by the creating thread through /proc/self/task/TID/comm was
 * lost (the TID is the namespace's, the path the host's). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "avp/hw/hw_timer.h"

#define NAME "avp-test-tmr"

/* Does a thread of this process have NAME, as /proc (the host's) shows it? */
static bool has_named_thread(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	bool found = false;

	if (!d)
		return false;
	while (!found && (e = readdir(d))) {
		char path[300], comm[32] = "";
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f))
			comm[strcspn(comm, "\n")] = '\0';
		fclose(f);
		found = strcmp(comm, NAME) == 0;
	}
	closedir(d);
	return found;
}

/* 0 when a timer thread made here has its name, 2 when it has not. The
 * thread may not have named itself yet when hw_timer_create returns. */
static int named_timer(void)
{
	const struct hw_timer_ops ops = { .name = NAME };
	struct hw_timer *t;
	bool found = false;

	if (hw_timer_create(&t, &ops))
		return 3;
	for (int i = 0; i < 200 && !found; i++) {
		found = has_named_thread();
		if (!found)
			usleep(10000);
	}
	hw_timer_destroy(t);
	return found ? 0 : 2;
}

static void test_named(void **state)
{
	(void)state;
	assert_int_equal(named_timer(), 0);
}

static void test_named_in_own_pid_namespace(void **state)
{
	int status;
	pid_t pid;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		pid_t inner;

		/* As the jail does (jail_pidns_begin, then the VM's fork). */
		if (unshare(CLONE_NEWPID))
			_exit(errno == EPERM || errno == EINVAL ? 77 : 4);
		inner = fork();
		if (inner == 0)
			_exit(getpid() == 1 ? named_timer() : 5);
		if (inner < 0 || waitpid(inner, &status, 0) != inner || !WIFEXITED(status))
			_exit(6);
		_exit(WEXITSTATUS(status));
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77)
		skip(); /* no CAP_SYS_ADMIN for a PID namespace here (not root) */
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_named),
		cmocka_unit_test(test_named_in_own_pid_namespace),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
