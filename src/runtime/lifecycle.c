/* create/start/state/kill/delete/list (see lifecycle.h). The CLI side of
 * each operation: checks, then a request to the VM's monitor, which does
 * the work and records it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "avp/api_client.h"
#include "avp/devices/vsock_paths.h"
#include "avp/runtime/bundle.h"
#include "avp/runtime/console_log.h"
#include "avp/runtime/lifecycle.h"
#include "avp/runtime/monitor.h"
#include "avp/runtime/state.h"
#include "avp/runtime/statedir.h"

#define CTL_TIMEOUT_MS 5000
#define CTL_MAX_REPLY 4096 /* {"ok":...}, or an error with the VM's last line */

/* Removes ROOT/ID and the files in it (the runtime makes no
 * subdirectories). Relative to descriptors opened without following links,
 * so a directory swapped for a link never makes us unlink elsewhere. */
int rt_remove_state_dir(const char *root, const char *id)
{
	struct dirent *d;
	int rootfd, dfd, ret = 0;
	DIR *dp;

	rootfd = open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (rootfd < 0)
		return -errno;
	dfd = openat(rootfd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0) {
		ret = -errno;
		close(rootfd);
		return ret;
	}
	dp = fdopendir(dfd);
	if (!dp) {
		ret = -errno;
		close(dfd);
		close(rootfd);
		return ret;
	}
	while ((d = readdir(dp))) {
		if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
			continue;
		unlinkat(dirfd(dp), d->d_name, 0);
	}
	closedir(dp);
	if (unlinkat(rootfd, id, AT_REMOVEDIR))
		ret = -errno;
	close(rootfd);
	return ret;
}

/* ROOT and ROOT/ID may be trusted (statedir.h); -ENOENT when either is
 * missing, with "no VM" in e. */
static int check_dirs(const char *root, const char *id, struct jc_err *e)
{
	int ret = rt_root_check(root, false, e);

	if (ret == 0)
		ret = rt_vmdir_check(root, id, e);
	if (ret == -ENOENT)
		jc_fail(e, "", "no VM with ID '%s' (under %s)", id, root);
	return ret;
}

int rt_create(const char *root, const char *id, const char *bundle_dir, struct jc_err *e)
{
	return rt_create_linked(root, id, bundle_dir, NULL, 0, e);
}

int rt_create_linked(const char *root, const char *id, const char *bundle_dir,
		     const struct rt_vsock_peer *peers, unsigned int npeers, struct jc_err *e)
{
	return rt_create_capped(root, id, bundle_dir, peers, npeers, 0, e);
}

/* A new VM's vsock device against those of the VMs already in root: no
 * shared CID, no colliding socket (avp/devices/vsock_paths.h). 0, or
 * -EINVAL with e set. */
static int check_root_vsock(const char *root, const struct avp_vsock_cfg *vs, struct jc_err *e)
{
	char mine[PATH_MAX];
	struct jc_err ignored = { "" };
	struct rt_state st;
	char **ids = NULL;
	size_t n = 0;
	int ret = 0;

	if (!vs || !vs->cid || !vs->socket || vsock_socket_path_resolve(vs->socket, mine, sizeof(mine)))
		return 0;
	if (rt_list_ids(root, &ids, &n, &ignored))
		return 0; /* a new root: nothing to collide with */
	for (size_t i = 0; i < n && !ret; i++) {
		size_t lm = strlen(mine), lo;

		if (rt_state_get(root, ids[i], &st, &ignored) || !st.vsock_cid)
			continue;
		lo = strlen(st.vsock_socket);
		if (st.vsock_cid == vs->cid)
			ret = jc_fail(e, "", "vsock CID %u is also VM '%s''s in %s: every VM needs a "
				      "CID of its own", vs->cid, st.id, root);
		else if (!vsock_socket_paths_conflict(mine, st.vsock_socket))
			continue;
		else if (vsock_socket_paths_same(mine, st.vsock_socket))
			ret = jc_fail(e, "", "vsock socket %s is also VM '%s''s socket: give each VM "
				      "its own", vs->socket, st.id);
		else if (lm > lo)
			ret = jc_fail(e, "", "vsock socket %s is VM '%s''s socket with %s appended: "
				      "that guest's connections to host port %s would reach this VM; "
				      "choose another path", vs->socket, st.id, mine + lo, mine + lo + 1);
		else
			ret = jc_fail(e, "", "vsock socket %s with %s appended is VM '%s''s socket: "
				      "this guest's connections to host port %s would reach that VM; "
				      "choose another path", vs->socket, st.vsock_socket + lm, st.id,
				      st.vsock_socket + lm + 1);
	}
	for (size_t i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
	return ret ? -EINVAL : 0;
}

int rt_create_capped(const char *root, const char *id, const char *bundle_dir,
		     const struct rt_vsock_peer *peers, unsigned int npeers,
		     unsigned long long console_max, struct jc_err *e)
{
	return rt_create_ex(root, id, bundle_dir, peers, npeers, console_max, 0, e);
}

static int create(const char *root, const char *id, const char *bundle_dir,
		  const struct rt_vsock_peer *peers, unsigned int npeers,
		  const struct rt_can_bus *can, unsigned int ncan,
		  unsigned long long console_max, unsigned int bundle_flags, struct jc_err *e);

int rt_create_ex(const char *root, const char *id, const char *bundle_dir,
		 const struct rt_vsock_peer *peers, unsigned int npeers,
		 unsigned long long console_max, unsigned int bundle_flags, struct jc_err *e)
{
	return create(root, id, bundle_dir, peers, npeers, NULL, 0, console_max, bundle_flags, e);
}

int rt_create_system(const char *root, const char *id, const char *bundle_dir,
		     const struct rt_vsock_peer *peers, unsigned int npeers,
		     const struct rt_can_bus *can, unsigned int ncan, struct jc_err *e)
{
	if (ncan > AVP_MAX_CANS)
		return jc_fail(e, "", "VM '%s': at most %d CAN buses", id, AVP_MAX_CANS);
	return create(root, id, bundle_dir, peers, npeers, can, ncan, 0, 0, e);
}

static int create(const char *root, const char *id, const char *bundle_dir,
		  const struct rt_vsock_peer *peers, unsigned int npeers,
		  const struct rt_can_bus *can, unsigned int ncan,
		  unsigned long long console_max, unsigned int bundle_flags, struct jc_err *e)
{
	struct avp_bundle b;
	struct rt_state st;
	struct jc_err be = { "" };
	char dir[PATH_MAX];
	int ret;

	if (rt_id_valid(id))
		return jc_fail(e, "", "ID '%s' is not valid: 1-64 characters of A-Z a-z 0-9 _ . -, "
			       "not starting with '.' or '-'", id);
	if (console_max && (console_max < RT_CONSOLE_LOG_MIN_CAP ||
			    console_max > RT_CONSOLE_LOG_MAX_CAP))
		return jc_fail(e, "", "console.log cap of %llu bytes: expected %llu to %llu",
			       console_max, RT_CONSOLE_LOG_MIN_CAP, RT_CONSOLE_LOG_MAX_CAP);
	ret = bundle_load_ex(bundle_dir, bundle_flags, &b, &be);
	if (ret)
		return jc_fail(e, "", "bundle %s: %s", bundle_dir, be.text);
	if (npeers && (!avp_config_count(&b.cfg, &virtio_vsock_config) ||
		       npeers > AVP_VSOCK_MAX_PEERS)) {
		bundle_free(&b);
		return jc_fail(e, "", "VM '%s': vsock links need a vsock device in its bundle (and "
			       "at most %d peers)", id, AVP_VSOCK_MAX_PEERS);
	}
	if (rt_path(dir, sizeof(dir), root, id, NULL) || strlen(dir) > 80) {
		bundle_free(&b);
		/* ROOT/ID/ctl.sock must fit a Unix socket address. */
		return jc_fail(e, "", "state directory %s/%s: path too long (keep --root short)",
			       root, id);
	}
	ret = rt_root_check(root, true, e);
	if (ret) {
		bundle_free(&b);
		return ret;
	}
	ret = check_root_vsock(root, avp_config_device(&b.cfg, &virtio_vsock_config, 0), e);
	if (ret) {
		bundle_free(&b);
		return ret;
	}
	if (mkdir(dir, 0755)) {
		int err = errno;

		bundle_free(&b);
		if (err == EEXIST)
			return jc_fail(e, "", "a VM with ID '%s' exists already (%s): pick another ID, "
				       "or `avp delete %s` first", id, dir, id), -EEXIST;
		return jc_fail(e, "", "cannot create %s: %s", dir, strerror(err)), -err;
	}
	rt_state_from_bundle(&st, id, &b);
	for (unsigned int i = 0; i < npeers; i++)
		st.peers[i] = peers[i];
	st.npeers = npeers;
	/* In the state before the monitor reads it: it is the only writer
	 * from then on (docs/can.md). */
	for (unsigned int i = 0; i < ncan; i++)
		st.can[i] = can[i];
	st.ncan = ncan;
	st.console_max = console_max ? console_max : RT_CONSOLE_LOG_MAX;
	st.confine = (bundle_flags & BUNDLE_CONFINE) != 0;
	bundle_free(&b);
	st.status = RT_CREATED;
	st.created = time(NULL);
	ret = rt_state_write(root, &st);
	if (ret) {
		rt_remove_state_dir(root, id);
		return jc_fail(e, "", "cannot write %s/state.json: %s", dir, strerror(-ret)), ret;
	}
	ret = rt_monitor_spawn(root, id, e);
	if (ret)
		rt_remove_state_dir(root, id);
	return ret;
}

int rt_state_get(const char *root, const char *id, struct rt_state *st, struct jc_err *e)
{
	int ret;

	if (rt_id_valid(id))
		return jc_fail(e, "", "ID '%s' is not valid", id);
	ret = check_dirs(root, id, e);
	if (ret)
		return ret;
	ret = rt_state_read(root, id, st);
	if (ret == -ENOENT)
		return jc_fail(e, "", "no VM with ID '%s' (under %s)", id, root), -ENOENT;
	if (ret)
		return jc_fail(e, "", "cannot read the state of '%s': %s", id, strerror(-ret)), ret;
	/* The monitor records the VM's end and then exits. A state read just
	 * before that record, checked against a monitor already gone, would
	 * call a clean end "vanished" (test_console_log_rotated did, under
	 * load). Once the monitor is seen gone its last word is on disk: read
	 * it again before judging. */
	if (st->status != RT_STOPPED && !rt_proc_alive(&st->monitor)) {
		struct rt_state last;

		if (rt_state_read(root, id, &last) == 0)
			*st = last;
	}
	rt_state_reconcile(st);
	return 0;
}

int rt_vm_socket(const char *root, const char *id, const char *name, char *path, size_t len,
		 struct jc_err *e)
{
	struct rt_state st;
	bool api = strcmp(name, "api.sock") == 0;
	int ret = rt_state_get(root, id, &st, e);

	if (ret)
		return ret;
	/* The VM process serves api.sock; the monitor console.sock, through
	 * restarts too. */
	if (st.status == RT_STOPPED || st.status == RT_CREATED ||
	    (api && st.status != RT_RUNNING))
		return jc_fail(e, "", "VM '%s' is not running (%s)%s", id,
			       rt_status_name(st.status),
			       st.status == RT_CREATED ? ": avp start it first" : ""),
		       -ESRCH;
	if (rt_path(path, len, root, id, name))
		return jc_fail(e, "", "VM '%s': state path too long", id), -ENAMETOOLONG;
	return 0;
}

/* One request to the monitor; the reply's "error" becomes e. */
static int ask_monitor(const char *root, const char *id, const char *request, int timeout_ms,
		       struct jc_err *e)
{
	char path[PATH_MAX], *reply;
	struct json_object *r;
	int ret;

	if (rt_path(path, sizeof(path), root, id, "ctl.sock"))
		return -ENAMETOOLONG;
	ret = api_client_request(path, request, CTL_MAX_REPLY, timeout_ms, &reply, NULL);
	if (ret)
		return jc_fail(e, "", "VM '%s': its monitor does not answer (%s)", id,
			       strerror(-ret)), ret;
	r = json_tokener_parse(reply);
	free(reply);
	if (!r || !json_object_get_boolean(json_object_object_get(r, "ok"))) {
		const char *why = r ? json_object_get_string(json_object_object_get(r, "error"))
				    : NULL;

		jc_fail(e, "", "VM '%s': %s", id, why ? why : "the monitor refused");
		json_object_put(r);
		return -EPERM;
	}
	json_object_put(r);
	return 0;
}

int rt_start(const char *root, const char *id, unsigned int wait_s, struct jc_err *e)
{
	char request[64];
	struct rt_state st;
	int ret = rt_state_get(root, id, &st, e);

	if (ret)
		return ret;
	if (st.status != RT_CREATED)
		return jc_fail(e, "", "VM '%s' is %s: only a created VM can be started", id,
			       rt_status_name(st.status)), -EBUSY;
	if (wait_s > RT_START_WAIT_MAX_S)
		return jc_fail(e, "", "wait of %u s: at most %d", wait_s, RT_START_WAIT_MAX_S);
	snprintf(request, sizeof(request), "{\"cmd\":\"start\",\"wait_s\":%u}", wait_s);
	/* The monitor answers within wait_s; the rest is its own slack. */
	return ask_monitor(root, id, request, (int)wait_s * 1000 + CTL_TIMEOUT_MS, e);
}

int rt_wait_status(const char *root, const char *id, unsigned int mask, int timeout_ms,
		   struct rt_state *st)
{
	struct timespec ts = { 0, 50 * 1000000 };

	for (int waited = 0;; waited += 50) {
		struct jc_err e = { "" };

		if (rt_state_get(root, id, st, &e) == 0 && (mask & (1u << st->status)))
			return 0;
		if (waited >= timeout_ms)
			return -ETIMEDOUT;
		nanosleep(&ts, NULL);
	}
}

int rt_kill(const char *root, const char *id, const char *sig, unsigned int wait_s,
	    struct jc_err *e)
{
	char request[64];
	struct rt_state st;
	int ret = rt_state_get(root, id, &st, e);

	if (ret)
		return ret;
	if (strcmp(sig, "TERM") != 0 && strcmp(sig, "KILL") != 0)
		return jc_fail(e, "", "signal '%s': expected TERM (graceful) or KILL", sig);
	if (st.status == RT_STOPPED)
		return jc_fail(e, "", "VM '%s' is stopped already", id), -ESRCH;
	if (rt_proc_alive(&st.monitor)) {
		snprintf(request, sizeof(request), "{\"cmd\":\"kill\",\"signal\":\"%s\"}", sig);
		ret = ask_monitor(root, id, request, CTL_TIMEOUT_MS, e);
	} else {
		/* The monitor is gone but the VM runs on: signal it directly. */
		ret = kill(st.vm.pid, strcmp(sig, "KILL") == 0 ? SIGKILL : SIGTERM) ? -errno : 0;
		if (ret)
			jc_fail(e, "", "VM '%s': cannot signal pid %d: %s", id, (int)st.vm.pid,
				strerror(-ret));
	}
	if (ret || !wait_s)
		return ret;
	if (rt_wait_status(root, id, 1u << RT_STOPPED, (int)wait_s * 1000, &st))
		return jc_fail(e, "", "VM '%s' did not stop within %u s", id, wait_s), -ETIMEDOUT;
	return 0;
}

int rt_delete(const char *root, const char *id, bool force, struct jc_err *e)
{
	struct rt_state st;
	int ret = rt_state_get(root, id, &st, e);

	if (ret)
		return ret;
	if (st.status != RT_STOPPED) {
		if (!force)
			return jc_fail(e, "", "VM '%s' is %s: `avp kill %s` it first, or delete "
				       "--force", id, rt_status_name(st.status), id), -EBUSY;
		ret = rt_kill(root, id, "KILL", 10, e);
		if (ret)
			return ret;
	}
	/* A monitor still finishing its last write would recreate files. */
	for (int i = 0; i < 40 && rt_proc_alive(&st.monitor); i++)
		usleep(50000);
	ret = rt_remove_state_dir(root, id);
	if (ret)
		return jc_fail(e, "", "cannot remove the state of '%s': %s", id, strerror(-ret)), ret;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool has_file(const char *root, const char *id, const char *name)
{
	char path[PATH_MAX];

	return name && rt_path(path, sizeof(path), root, id, name) == 0 && access(path, F_OK) == 0;
}

int rt_list_ids(const char *root, char ***ids, size_t *n, struct jc_err *e)
{
	return rt_list_ids_with(root, NULL, ids, n, e);
}

int rt_list_ids_with(const char *root, const char *also, char ***ids, size_t *n,
		     struct jc_err *e)
{
	struct dirent *d;
	size_t cap = 0;
	DIR *dp;
	int ret;

	*ids = NULL;
	*n = 0;
	ret = rt_root_check(root, false, e);
	if (ret)
		return ret == -ENOENT ? 0 : ret;
	dp = opendir(root);
	if (!dp)
		return errno == ENOENT ? 0 : -errno;
	while ((d = readdir(dp))) {
		if (rt_id_valid(d->d_name) || (!has_file(root, d->d_name, "state.json") &&
					       !has_file(root, d->d_name, also)))
			continue;
		if (*n == cap) {
			char **grown = realloc(*ids, (cap = cap ? cap * 2 : 8) * sizeof(char *));

			if (!grown)
				break;
			*ids = grown;
		}
		if (!((*ids)[*n] = strdup(d->d_name)))
			break;
		(*n)++;
	}
	closedir(dp);
	if (*n)
		qsort(*ids, *n, sizeof(char *), cmp_str);
	return 0;
}
