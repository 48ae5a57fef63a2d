/* The OCI-facing words of the runtime (oci.h): state in the shape of the
 * runtime spec, signal names, exit statuses, features, runc's log. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "avp/runtime/oci.h"
#include "avp/vm.h"

static void annotate(struct json_object *a, const char *key, const char *value)
{
	json_object_object_add(a, key, json_object_new_string(value));
}

struct json_object *oci_state_from_rt(const struct rt_state *st)
{
	struct json_object *o = json_object_new_object();
	struct json_object *a = json_object_new_object();
	const char *status = "stopped";
	pid_t pid = 0;
	char n[16];

	/* runtime.md "State": status is created, running or stopped; a VM
	 * between two runs of its restart policy is up for its user. */
	switch (st->status) {
	case RT_CREATED:
		status = "created";
		pid = st->monitor.pid;
		break;
	case RT_RUNNING:
	case RT_RESTARTING:
		status = "running";
		pid = st->vm.pid ? st->vm.pid : st->monitor.pid;
		break;
	case RT_STOPPED:
		break;
	}
	json_object_object_add(o, "ociVersion", json_object_new_string(OCI_SPEC_VERSION));
	json_object_object_add(o, "id", json_object_new_string(st->id));
	json_object_object_add(o, "status", json_object_new_string(status));
	json_object_object_add(o, "pid", json_object_new_int(pid));
	json_object_object_add(o, "bundle", json_object_new_string(st->bundle));
	annotate(a, "org.avp.status", rt_status_name(st->status));
	snprintf(n, sizeof(n), "%u", st->restarts);
	annotate(a, "org.avp.restarts", n);
	if (st->last_exit_reason[0])
		annotate(a, "org.avp.last_exit_reason", st->last_exit_reason);
	json_object_object_add(o, "annotations", a);
	json_object_object_add(o, "org.avp", rt_state_to_json(st, true));
	return o;
}

static const struct {
	const char *name;
	int number;
} signals[] = {
	{ "HUP", SIGHUP },     { "INT", SIGINT },	  { "QUIT", SIGQUIT },	 { "ILL", SIGILL },
	{ "TRAP", SIGTRAP },   { "ABRT", SIGABRT },	  { "IOT", SIGIOT },	 { "BUS", SIGBUS },
	{ "FPE", SIGFPE },     { "KILL", SIGKILL },	  { "USR1", SIGUSR1 },	 { "SEGV", SIGSEGV },
	{ "USR2", SIGUSR2 },   { "PIPE", SIGPIPE },	  { "ALRM", SIGALRM },	 { "TERM", SIGTERM },
	{ "STKFLT", SIGSTKFLT }, { "CHLD", SIGCHLD },	  { "CONT", SIGCONT },	 { "STOP", SIGSTOP },
	{ "TSTP", SIGTSTP },   { "TTIN", SIGTTIN },	  { "TTOU", SIGTTOU },	 { "URG", SIGURG },
	{ "XCPU", SIGXCPU },   { "XFSZ", SIGXFSZ },	  { "VTALRM", SIGVTALRM }, { "PROF", SIGPROF },
	{ "WINCH", SIGWINCH }, { "IO", SIGIO },		  { "POLL", SIGPOLL },	 { "PWR", SIGPWR },
	{ "SYS", SIGSYS },
};

int oci_signal_number(const char *s)
{
	char *end;
	long v;

	if (!s || !*s)
		return -EINVAL;
	if (s[0] >= '0' && s[0] <= '9') {
		errno = 0;
		v = strtol(s, &end, 10);
		return errno || *end || v < 1 || v > SIGRTMAX ? -EINVAL : (int)v;
	}
	if (strncasecmp(s, "SIG", 3) == 0)
		s += 3;
	for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
		if (strcasecmp(s, signals[i].name) == 0)
			return signals[i].number;
	return -EINVAL;
}

int oci_exit_status(int wstatus, char *why, size_t len)
{
	static const char *const reasons[] = {
		[AVP_EXIT_POWEROFF] = "the guest powered off",
		[AVP_EXIT_CONFIG] = "avp refused the VM's configuration",
		[AVP_EXIT_CRASH] = "the guest crashed",
		[AVP_EXIT_REBOOT] = "the guest rebooted (or panicked)",
		[AVP_EXIT_HOST_ERROR] = "the VMM failed on the host",
		[AVP_EXIT_SIGNAL] = "the VMM was stopped by SIGTERM",
		[AVP_EXIT_WATCHDOG] = "the guest's watchdog expired",
	};
	int code;

	if (WIFSIGNALED(wstatus)) {
		snprintf(why, len, "the VMM was killed by signal %d (%s)", WTERMSIG(wstatus),
			 strsignal(WTERMSIG(wstatus)));
		return 128 + WTERMSIG(wstatus);
	}
	code = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
	if (code >= 0 && code < (int)(sizeof(reasons) / sizeof(reasons[0])))
		snprintf(why, len, "%s (avp run exit status %d)", reasons[code], code);
	else
		snprintf(why, len, "avp run ended with status %d", code);
	if (code == AVP_EXIT_POWEROFF)
		return 0;
	/* As a process stopped by SIGTERM would report itself to a shell. */
	if (code == AVP_EXIT_SIGNAL)
		return 128 + SIGTERM;
	return OCI_EXIT_VM_FAILURE;
}

struct json_object *oci_features(void)
{
	struct json_object *o = json_object_new_object();
	struct json_object *linux_ = json_object_new_object();
	struct json_object *ann = json_object_new_object();

	/* features.md: what is left out is not supported. */
	json_object_object_add(o, "ociVersionMin", json_object_new_string("1.0.0"));
	json_object_object_add(o, "ociVersionMax", json_object_new_string(OCI_SPEC_VERSION));
	json_object_object_add(o, "hooks", json_object_new_array());
	json_object_object_add(o, "mountOptions", json_object_new_array());
	json_object_object_add(linux_, "namespaces", json_object_new_array());
	json_object_object_add(linux_, "capabilities", json_object_new_array());
	json_object_object_add(o, "linux", linux_);
	annotate(ann, "org.avp.runtime", "avp: each container is a KVM virtual machine");
	json_object_object_add(o, "annotations", ann);
	return o;
}

void oci_log_append(const struct oci_log *log, const char *cmd, const char *msg)
{
	char when[32];
	time_t now = time(NULL);
	struct tm tm;
	FILE *f;
	int fd;

	if (!log || !log->path)
		return;
	fd = open(log->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	f = fd < 0 ? NULL : fdopen(fd, "a");
	if (!f) {
		if (fd >= 0)
			close(fd);
		return;
	}
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (log->json) {
		/* One object per line, as runc writes it and containerd reads it. */
		struct json_object *o = json_object_new_object();
		char text[640];

		snprintf(text, sizeof(text), "avp %s: %s", cmd, msg);
		json_object_object_add(o, "level", json_object_new_string("error"));
		json_object_object_add(o, "msg", json_object_new_string(text));
		json_object_object_add(o, "time", json_object_new_string(when));
		fprintf(f, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							     JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(o);
	} else {
		fprintf(f, "time=\"%s\" level=error msg=\"avp %s: %s\"\n", when, cmd, msg);
	}
	fclose(f);
}
