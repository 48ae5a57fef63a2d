/* state.json of one VM: JSON in and out, atomic writes, and the truth
 * about its processes from /proc. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "avp/devices/vsock_paths.h"
#include "avp/runtime/jsoncheck.h"
#include "avp/runtime/state.h"

/* A state is a few KiB; anything much larger is not one of ours. */
#define RT_STATE_MAX (256 * 1024)

int rt_id_valid(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n > RT_ID_MAX || id[0] == '.' || id[0] == '-')
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)id[i]) && !strchr("_.-", id[i]))
			return -EINVAL;
	return 0;
}

int rt_path(char *buf, size_t len, const char *root, const char *id, const char *name)
{
	int n = name ? snprintf(buf, len, "%s/%s/%s", root, id, name)
		     : snprintf(buf, len, "%s/%s", root, id);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

const char *rt_status_name(enum rt_status s)
{
	switch (s) {
	case RT_CREATED:
		return "created";
	case RT_RUNNING:
		return "running";
	case RT_RESTARTING:
		return "restarting";
	default:
		return "stopped";
	}
}

static enum rt_status status_from_name(const char *s)
{
	if (strcmp(s, "created") == 0)
		return RT_CREATED;
	if (strcmp(s, "running") == 0)
		return RT_RUNNING;
	if (strcmp(s, "restarting") == 0)
		return RT_RESTARTING;
	return RT_STOPPED;
}

void rt_state_from_bundle(struct rt_state *st, const char *id, const struct avp_bundle *b)
{
	const struct avp_config *cfg = &b->cfg;
	const struct avp_vsock_cfg *vs;

	memset(st, 0, sizeof(*st));
	snprintf(st->id, sizeof(st->id), "%s", id);
	snprintf(st->bundle, sizeof(st->bundle), "%s", b->dir);
	st->restart = b->restart;
	st->max_restarts = b->max_restarts;
	st->backoff_ms = b->backoff_ms;
	st->shutdown_timeout_s = b->shutdown_timeout_s;
	st->critical = b->critical;
	st->cpus = cfg->cpus;
	st->affinity_set = cfg->affinity_set;
	memcpy(st->affinity, cfg->cpu_affinity, sizeof(st->affinity));
	st->sched_class = cfg->sched_class;
	st->sched_priority = cfg->sched_priority;
	st->memory_mib = cfg->memory_mib;
	st->mem_reserve = cfg->mem_reserve;
	st->nnets = 0;
	for (const struct avp_net_cfg *net;
	     st->nnets < AVP_MAX_NETS && (net = avp_config_device(cfg, &virtio_net_config, st->nnets));
	     st->nnets++)
		snprintf(st->taps[st->nnets], sizeof(st->taps[0]), "%s", net->tap ? net->tap : "");
	vs = avp_config_device(cfg, &virtio_vsock_config, 0);
	st->vsock_cid = vs ? vs->cid : 0;
	st->vsock_socket[0] = '\0';
	if (vs && vs->socket &&
	    vsock_socket_path_resolve(vs->socket, st->vsock_socket, sizeof(st->vsock_socket)))
		st->vsock_socket[0] = '\0';
}

/* ---- /proc -------------------------------------------------------------- */

/* Field 3 (state), 4 (ppid) and 22 (starttime) of /proc/PID/stat; the
 * command name in field 2 may hold spaces and parentheses, so parse after
 * the last ')'. */
static int read_stat(pid_t pid, char *state, int *ppid, unsigned long long *start)
{
	char path[64], buf[1024];
	ssize_t n;
	char *p;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -ESRCH;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -ESRCH;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %c %d %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s "
			 "%*s %*s %*s %llu", state, ppid, start) != 3)
		return -EIO;
	return 0;
}

int rt_proc_get(pid_t pid, struct rt_proc *p)
{
	char state;
	int ppid;
	int ret = read_stat(pid, &state, &ppid, &p->start);

	if (ret)
		return ret;
	if (state == 'Z' || state == 'X')
		return -ESRCH;
	p->pid = pid;
	return 0;
}

int rt_proc_parent(pid_t pid, pid_t *ppid)
{
	unsigned long long start;
	char state;
	int parent;
	int ret = read_stat(pid, &state, &parent, &start);

	if (ret == 0 && (state == 'Z' || state == 'X'))
		ret = -ESRCH;
	if (ret == 0)
		*ppid = parent;
	return ret;
}

bool rt_proc_alive(const struct rt_proc *p)
{
	struct rt_proc now;

	if (p->pid <= 0 || rt_proc_get(p->pid, &now))
		return false;
	return now.start == p->start;
}

bool rt_state_reconcile(struct rt_state *st)
{
	if (st->status == RT_STOPPED || rt_proc_alive(&st->monitor))
		return false;
	/* The monitor is gone: it would have recorded any normal end. */
	if (st->vm.pid && rt_proc_alive(&st->vm)) {
		snprintf(st->last_exit_detail, sizeof(st->last_exit_detail),
			 "the monitor (pid %d) is gone; the VM runs unmanaged",
			 (int)st->monitor.pid);
		return true;
	}
	st->status = RT_STOPPED;
	st->vm.pid = 0;
	st->stopped = time(NULL);
	snprintf(st->last_exit_reason, sizeof(st->last_exit_reason), "vanished");
	snprintf(st->last_exit_detail, sizeof(st->last_exit_detail),
		 "the monitor (pid %d) and the VM process disappeared without recording an end "
		 "(killed from outside?)", (int)st->monitor.pid);
	return true;
}

static const char *policy_name(int policy)
{
	switch (policy) {
	case SCHED_OTHER:
		return "normal";
	case SCHED_FIFO:
		return "fifo";
	case SCHED_RR:
		return "rr";
	case SCHED_BATCH:
		return "batch";
	case SCHED_IDLE:
		return "idle";
	default:
		return "other";
	}
}

/* The first child of pid, or 0. */
static pid_t first_child(pid_t pid)
{
	char path[64];
	int child = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (fscanf(f, "%d", &child) != 1)
		child = 0;
	fclose(f);
	return (pid_t)child;
}

/* Appends the vCPU threads of pid (named "vcpuN" by partition_apply_vcpu)
 * as the kernel sees them; returns how many. */
static int add_vcpus(struct json_object *arr, pid_t pid)
{
	char path[64];
	struct dirent *d;
	int n = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	dir = opendir(path);
	if (!dir)
		return 0;
	while ((d = readdir(dir))) {
		char comm_path[128], comm[32] = "";
		pid_t tid = (pid_t)atoi(d->d_name);
		struct json_object *t, *cpus;
		struct sched_param sp;
		cpu_set_t set;
		FILE *f;
		int pol;

		if (tid <= 0)
			continue;
		snprintf(comm_path, sizeof(comm_path), "/proc/%d/task/%d/comm", (int)pid, (int)tid);
		f = fopen(comm_path, "re");
		if (!f)
			continue;
		if (!fgets(comm, sizeof(comm), f))
			comm[0] = '\0';
		fclose(f);
		comm[strcspn(comm, "\n")] = '\0';
		if (strncmp(comm, "vcpu", 4) != 0)
			continue;
		t = json_object_new_object();
		json_object_object_add(t, "thread", json_object_new_string(comm));
		json_object_object_add(t, "tid", json_object_new_int(tid));
		cpus = json_object_new_array();
		if (sched_getaffinity(tid, sizeof(set), &set) == 0)
			for (int c = 0; c < CPU_SETSIZE; c++)
				if (CPU_ISSET(c, &set))
					json_object_array_add(cpus, json_object_new_int(c));
		json_object_object_add(t, "affinity", cpus);
		pol = sched_getscheduler(tid);
		json_object_object_add(t, "class", json_object_new_string(policy_name(pol)));
		if (sched_getparam(tid, &sp) == 0)
			json_object_object_add(t, "priority", json_object_new_int(sp.sched_priority));
		json_object_array_add(arr, t);
		n++;
	}
	closedir(dir);
	return n;
}

/* With --jail or a restart under seccomp, avp run supervises a child that
 * runs the VM: look there when the process itself has no vCPU threads. */
static struct json_object *live_vcpus(pid_t pid, pid_t *vm_pid)
{
	struct json_object *arr = json_object_new_array();
	pid_t child;

	*vm_pid = pid;
	if (add_vcpus(arr, pid) == 0 && (child = first_child(pid)) > 0 && add_vcpus(arr, child))
		*vm_pid = child;
	return arr;
}

static long long locked_kib(pid_t pid)
{
	char path[64], line[256];
	long long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmLck: %lld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* ---- JSON --------------------------------------------------------------- */

static struct json_object *time_json(time_t t)
{
	char buf[32];
	struct tm tm;

	if (!t || !gmtime_r(&t, &tm))
		return NULL;
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_object_new_string(buf);
}

static time_t time_from_json(struct json_object *v)
{
	struct tm tm = { 0 };
	const char *s = v ? json_object_get_string(v) : NULL;

	if (!s || !strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm))
		return 0;
	return timegm(&tm);
}

static struct json_object *str_or_null(const char *s)
{
	return s && *s ? json_object_new_string(s) : NULL;
}

struct json_object *rt_state_to_json(const struct rt_state *st, bool live)
{
	struct json_object *o = json_object_new_object();
	struct json_object *cfg = json_object_new_object();
	struct json_object *sched = json_object_new_object();
	struct json_object *mem = json_object_new_object();
	struct json_object *restart = json_object_new_object();
	struct json_object *taps = json_object_new_array();
	struct json_object *peers = json_object_new_array();

	json_object_object_add(o, "id", json_object_new_string(st->id));
	json_object_object_add(o, "status", json_object_new_string(rt_status_name(st->status)));
	json_object_object_add(o, "pid", json_object_new_int(st->vm.pid));
	json_object_object_add(o, "pid_start", json_object_new_uint64(st->vm.start));
	json_object_object_add(o, "monitor_pid", json_object_new_int(st->monitor.pid));
	json_object_object_add(o, "monitor_start", json_object_new_uint64(st->monitor.start));
	json_object_object_add(o, "bundle", json_object_new_string(st->bundle));
	json_object_object_add(o, "created", time_json(st->created));
	json_object_object_add(o, "started", time_json(st->started));
	json_object_object_add(o, "stopped", time_json(st->stopped));
	json_object_object_add(o, "restarts", json_object_new_int((int)st->restarts));
	json_object_object_add(o, "last_exit_reason", str_or_null(st->last_exit_reason));
	json_object_object_add(o, "last_exit_detail", str_or_null(st->last_exit_detail));
	json_object_object_add(o, "stop_requested", str_or_null(st->stop_requested));

	json_object_object_add(restart, "policy",
			       json_object_new_string(bundle_restart_name(st->restart)));
	json_object_object_add(restart, "max_restarts", json_object_new_int((int)st->max_restarts));
	json_object_object_add(restart, "backoff_ms", json_object_new_int((int)st->backoff_ms));
	json_object_object_add(o, "restart", restart);
	json_object_object_add(o, "shutdown_timeout_s",
			       json_object_new_int((int)st->shutdown_timeout_s));
	json_object_object_add(o, "console_log_max", json_object_new_uint64(st->console_max));
	if (st->confine)
		json_object_object_add(o, "confine", json_object_new_boolean(true));

	/* What the bundle asked for. */
	json_object_object_add(cfg, "critical", json_object_new_boolean(st->critical));
	json_object_object_add(cfg, "cpus", json_object_new_int((int)st->cpus));
	if (st->affinity_set) {
		struct json_object *aff = json_object_new_array();

		for (unsigned int i = 0; i < st->cpus && i < AVP_MAX_CPUS; i++)
			json_object_array_add(aff, json_object_new_int(st->affinity[i]));
		json_object_object_add(cfg, "affinity", aff);
	} else {
		json_object_object_add(cfg, "affinity", NULL);
	}
	json_object_object_add(sched, "class", json_object_new_string(
					   st->sched_class == AVP_SCHED_FIFO ? "fifo" : "normal"));
	if (st->sched_class == AVP_SCHED_FIFO)
		json_object_object_add(sched, "priority", json_object_new_int(st->sched_priority));
	json_object_object_add(cfg, "scheduling", sched);
	json_object_object_add(mem, "mib", json_object_new_uint64(st->memory_mib));
	json_object_object_add(mem, "reserve", json_object_new_boolean(st->mem_reserve));
	json_object_object_add(cfg, "memory", mem);
	for (unsigned int i = 0; i < st->nnets && i < AVP_MAX_NETS; i++)
		json_object_array_add(taps, json_object_new_string(st->taps[i]));
	json_object_object_add(cfg, "taps", taps);
	if (st->vsock_cid) {
		struct json_object *vs = json_object_new_object();

		json_object_object_add(vs, "cid", json_object_new_int64(st->vsock_cid));
		json_object_object_add(vs, "socket", json_object_new_string(st->vsock_socket));
		json_object_object_add(cfg, "vsock", vs);
	}
	for (unsigned int i = 0; i < st->npeers && i < AVP_VSOCK_MAX_PEERS; i++) {
		struct json_object *p = json_object_new_object();

		json_object_object_add(p, "id", json_object_new_string(st->peers[i].id));
		json_object_object_add(p, "cid", json_object_new_uint64(st->peers[i].cid));
		json_object_object_add(p, "socket", json_object_new_string(st->peers[i].socket));
		json_object_array_add(peers, p);
	}
	json_object_object_add(cfg, "vsock_peers", peers);
	if (st->ncan) {
		struct json_object *buses = json_object_new_array();

		for (unsigned int i = 0; i < st->ncan && i < AVP_MAX_CANS; i++) {
			const struct rt_can_bus *c = &st->can[i];
			struct json_object *b = json_object_new_object();

			json_object_object_add(b, "bus", json_object_new_string(c->bus));
			json_object_object_add(b, "interface", json_object_new_string(c->ifname));
			json_object_object_add(b, "tx", str_or_null(c->tx));
			json_object_object_add(b, "rx", str_or_null(c->rx));
			json_object_array_add(buses, b);
		}
		json_object_object_add(cfg, "can_buses", buses);
	}
	json_object_object_add(o, "config", cfg);

	if (live && st->vm.pid && rt_proc_alive(&st->vm)) {
		struct json_object *eff = json_object_new_object();
		pid_t vm_pid;

		json_object_object_add(eff, "vcpus", live_vcpus(st->vm.pid, &vm_pid));
		json_object_object_add(eff, "memory_locked_kib",
				       json_object_new_int64(locked_kib(vm_pid)));
		json_object_object_add(o, "effective", eff);
	}
	return o;
}

static const char *get_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return "";
	return json_object_get_string(v);
}

static long long get_num(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : 0;
}

static unsigned long long get_unum(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_uint64(v) : 0;
}

static void state_from_json(struct json_object *o, struct rt_state *st)
{
	struct json_object *cfg, *v, *restart;

	memset(st, 0, sizeof(*st));
	snprintf(st->id, sizeof(st->id), "%s", get_str(o, "id"));
	snprintf(st->bundle, sizeof(st->bundle), "%s", get_str(o, "bundle"));
	st->status = status_from_name(get_str(o, "status"));
	st->vm.pid = (pid_t)get_num(o, "pid");
	st->vm.start = get_unum(o, "pid_start");
	st->monitor.pid = (pid_t)get_num(o, "monitor_pid");
	st->monitor.start = get_unum(o, "monitor_start");
	st->created = time_from_json(json_object_object_get(o, "created"));
	st->started = time_from_json(json_object_object_get(o, "started"));
	st->stopped = time_from_json(json_object_object_get(o, "stopped"));
	st->restarts = (unsigned int)get_num(o, "restarts");
	snprintf(st->last_exit_reason, sizeof(st->last_exit_reason), "%s",
		 get_str(o, "last_exit_reason"));
	snprintf(st->last_exit_detail, sizeof(st->last_exit_detail), "%s",
		 get_str(o, "last_exit_detail"));
	snprintf(st->stop_requested, sizeof(st->stop_requested), "%s",
		 get_str(o, "stop_requested"));
	st->shutdown_timeout_s = (unsigned int)get_num(o, "shutdown_timeout_s");
	st->console_max = get_unum(o, "console_log_max");
	st->confine = json_object_get_boolean(json_object_object_get(o, "confine"));
	if (json_object_object_get_ex(o, "restart", &restart)) {
		const char *p = get_str(restart, "policy");

		st->restart = strcmp(p, "always") == 0	   ? AVP_RESTART_ALWAYS
			      : strcmp(p, "on-failure") == 0 ? AVP_RESTART_ON_FAILURE
							     : AVP_RESTART_NEVER;
		st->max_restarts = (unsigned int)get_num(restart, "max_restarts");
		st->backoff_ms = (unsigned int)get_num(restart, "backoff_ms");
	}
	if (!json_object_object_get_ex(o, "config", &cfg))
		return;
	st->critical = json_object_get_boolean(json_object_object_get(cfg, "critical"));
	st->cpus = (unsigned int)get_num(cfg, "cpus");
	v = json_object_object_get(cfg, "affinity");
	if (v && json_object_is_type(v, json_type_array)) {
		st->affinity_set = true;
		for (size_t i = 0; i < json_object_array_length(v) && i < AVP_MAX_CPUS; i++)
			st->affinity[i] = json_object_get_int(json_object_array_get_idx(v, i));
	}
	v = json_object_object_get(cfg, "scheduling");
	if (v) {
		st->sched_class = strcmp(get_str(v, "class"), "fifo") == 0 ? AVP_SCHED_FIFO
									 : AVP_SCHED_NORMAL;
		st->sched_priority = (int)get_num(v, "priority");
	}
	v = json_object_object_get(cfg, "memory");
	if (v) {
		st->memory_mib = get_unum(v, "mib");
		st->mem_reserve = json_object_get_boolean(json_object_object_get(v, "reserve"));
	}
	v = json_object_object_get(cfg, "taps");
	if (v && json_object_is_type(v, json_type_array))
		for (size_t i = 0; i < json_object_array_length(v) && i < AVP_MAX_NETS; i++) {
			snprintf(st->taps[i], sizeof(st->taps[i]), "%s",
				 json_object_get_string(json_object_array_get_idx(v, i)));
			st->nnets = (unsigned int)i + 1;
		}
	v = json_object_object_get(cfg, "vsock");
	if (v && json_object_is_type(v, json_type_object)) {
		st->vsock_cid = (uint32_t)get_unum(v, "cid");
		snprintf(st->vsock_socket, sizeof(st->vsock_socket), "%s", get_str(v, "socket"));
	}
	v = json_object_object_get(cfg, "vsock_peers");
	if (v && json_object_is_type(v, json_type_array))
		for (size_t i = 0; i < json_object_array_length(v) && i < AVP_VSOCK_MAX_PEERS; i++) {
			struct json_object *p = json_object_array_get_idx(v, i);
			struct rt_vsock_peer *peer = &st->peers[i];

			snprintf(peer->id, sizeof(peer->id), "%s", get_str(p, "id"));
			peer->cid = (uint32_t)get_unum(p, "cid");
			snprintf(peer->socket, sizeof(peer->socket), "%s", get_str(p, "socket"));
			st->npeers = (unsigned int)i + 1;
		}
	v = json_object_object_get(cfg, "can_buses");
	if (v && json_object_is_type(v, json_type_array))
		for (size_t i = 0; i < json_object_array_length(v) && i < AVP_MAX_CANS; i++) {
			struct json_object *b = json_object_array_get_idx(v, i);
			struct rt_can_bus *c = &st->can[i];

			snprintf(c->bus, sizeof(c->bus), "%s", get_str(b, "bus"));
			snprintf(c->ifname, sizeof(c->ifname), "%s", get_str(b, "interface"));
			snprintf(c->tx, sizeof(c->tx), "%s", get_str(b, "tx"));
			snprintf(c->rx, sizeof(c->rx), "%s", get_str(b, "rx"));
			st->ncan = (unsigned int)i + 1;
		}
}

/* A temporary of our own next to path: O_EXCL so that nothing already
 * there (a link planted to make us truncate another file, a leftover) is
 * reused; a leftover of a dead writer with our pid is removed once. */
static int open_temp(const char *path, char *tmp, size_t len)
{
	static unsigned int serial;

	snprintf(tmp, len, "%s.tmp.%d.%u", path, (int)getpid(), serial++);
	for (int attempt = 0; attempt < 2; attempt++) {
		int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd >= 0 || errno != EEXIST)
			return fd >= 0 ? fd : -errno;
		unlink(tmp); /* removes a link itself, never its target */
	}
	return -EEXIST;
}

int rt_json_write_file(const char *path, struct json_object *o)
{
	const char *text = json_object_to_json_string_ext(o, RT_JSON_PRETTY);
	char tmp[PATH_MAX + 32];
	size_t len = strlen(text);
	int fd, ret = 0;

	fd = open_temp(path, tmp, sizeof(tmp));
	if (fd < 0)
		return fd;
	/* fsync before rename: after a host crash the file is either the
	 * old or the new state, never empty. */
	errno = 0;
	if (write(fd, text, len) != (ssize_t)len || write(fd, "\n", 1) != 1 || fsync(fd))
		ret = errno ? -errno : -EIO;
	close(fd);
	/* rename replaces whatever is at path, a link included, without
	 * following it. */
	if (ret == 0 && rename(tmp, path))
		ret = -errno;
	if (ret)
		unlink(tmp);
	return ret;
}

int rt_state_write(const char *root, const struct rt_state *st)
{
	char path[PATH_MAX];
	struct json_object *o;
	int ret;

	if (rt_path(path, sizeof(path), root, st->id, "state.json"))
		return -ENAMETOOLONG;
	o = rt_state_to_json(st, false);
	ret = rt_json_write_file(path, o);
	json_object_put(o);
	return ret;
}

int rt_state_read(const char *root, const char *id, struct rt_state *st)
{
	char path[PATH_MAX], *text;
	struct json_object *o;
	struct jc_err e = { "" };
	size_t got = 0;
	int fd, ret;

	if (rt_path(path, sizeof(path), root, id, "state.json"))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ENOENT : errno == ELOOP ? -EPERM : -errno;
	ret = jc_read_fd(fd, RT_STATE_MAX, &text, &got);
	close(fd);
	if (ret)
		return ret == -EFBIG ? -EIO : ret;
	ret = jc_parse_text(text, got, "state.json", &o, &e);
	free(text);
	if (ret)
		return -EIO;
	state_from_json(o, st);
	json_object_put(o);
	return 0;
}
