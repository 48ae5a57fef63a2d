/* create/start/state/kill/delete of OCI VMs (oci.h), as runc's callers
 * expect them (runtime.md "Operations"). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "avp/runtime/bundle.h"
#include "avp/runtime/lifecycle.h"
#include "avp/runtime/oci.h"
#include "avp/runtime/oci_image.h"
#include "avp/runtime/oci_process.h"
#include "avp/runtime/statedir.h"

#define OCI_STATE_MAX (256 * 1024)
#define KILL_WAIT_MS 3000

/* One OCI VM as oci.json and /proc tell it. */
struct oci_rec {
	struct json_object *j; /* oci.json */
	struct rt_proc proc;
	const char *status; /* "created", "running", "stopped" */
};

int oci_bundle_is_oci(const char *dir, bool *is_oci, struct jc_err *e)
{
	char path[PATH_MAX];
	struct json_object *root;
	struct jc_err pe = { "" };
	int ret;

	if (snprintf(path, sizeof(path), "%s/%s", dir, BUNDLE_CONFIG) >= (int)sizeof(path))
		return jc_fail(e, "", "bundle %s: path too long", dir);
	ret = jc_parse_file(path, BUNDLE_CONFIG, &root, &pe);
	if (ret)
		return jc_fail(e, "", "bundle %s: %s", dir, pe.text);
	*is_oci = json_object_is_type(root, json_type_object) &&
		  json_object_object_get_ex(root, "ociVersion", NULL);
	json_object_put(root);
	return 0;
}

static int check_dirs(const char *root, const char *id, struct jc_err *e)
{
	int ret = rt_id_valid(id) ? -ENOENT : rt_root_check(root, false, e);

	if (ret == 0)
		ret = rt_vmdir_check(root, id, e);
	if (ret == -ENOENT)
		jc_fail(e, "", "no container with ID '%s' (under %s)", id, root);
	return ret;
}

bool oci_is_oci_vm(const char *root, const char *id)
{
	struct jc_err e = { "" };
	char path[PATH_MAX];
	struct stat st;

	return check_dirs(root, id, &e) == 0 &&
	       rt_path(path, sizeof(path), root, id, OCI_STATE_FILE) == 0 &&
	       lstat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static void rec_free(struct oci_rec *r)
{
	json_object_put(r->j);
	r->j = NULL;
}

static int load(const char *root, const char *id, struct oci_rec *r, struct jc_err *e)
{
	char path[PATH_MAX];
	struct stat st;
	size_t len;
	char *text;
	int fd, ret;

	memset(r, 0, sizeof(*r));
	ret = check_dirs(root, id, e);
	if (ret)
		return ret;
	if (rt_path(path, sizeof(path), root, id, OCI_STATE_FILE))
		return -ENAMETOOLONG;
	fd = rt_open_file(path, O_RDONLY, 0);
	if (fd < 0)
		return jc_fail(e, "", "container '%s': cannot read %s: %s", id, path,
			       strerror(-fd)), fd;
	ret = jc_read_fd(fd, OCI_STATE_MAX, &text, &len);
	close(fd);
	if (ret)
		return jc_fail(e, "", "container '%s': cannot read %s: %s", id, path,
			       strerror(-ret)), ret;
	r->j = json_tokener_parse(text);
	free(text);
	if (!json_object_is_type(r->j, json_type_object)) {
		rec_free(r);
		return jc_fail(e, "", "container '%s': %s is not a JSON object", id, path);
	}
	r->proc.pid = json_object_get_int(json_object_object_get(r->j, "pid"));
	r->proc.start = (unsigned long long)json_object_get_int64(
		json_object_object_get(r->j, "pid_start"));
	r->status = "stopped";
	if (r->proc.pid > 0 && rt_proc_alive(&r->proc))
		r->status = rt_path(path, sizeof(path), root, id, OCI_START_FIFO) == 0 &&
					    lstat(path, &st) == 0 ? "created" : "running";
	return 0;
}

static int write_state(const char *root, const char *id, struct json_object *j)
{
	char path[PATH_MAX];

	if (rt_path(path, sizeof(path), root, id, OCI_STATE_FILE))
		return -ENAMETOOLONG;
	return rt_json_write_file(path, j);
}

/* runc's --pid-file: the container process's PID, replaced atomically. */
static int write_pid_file(const char *file, pid_t pid)
{
	char tmp[PATH_MAX];
	int fd, ret = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.avp-tmp.%d", file, (int)getpid()) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (dprintf(fd, "%d", (int)pid) < 0)
		ret = -EIO;
	close(fd);
	if (ret == 0 && rename(tmp, file))
		ret = -errno;
	if (ret)
		unlink(tmp);
	return ret;
}

/* runc's --console-socket: the pty master, SCM_RIGHTS, its name as data. */
static int send_console(const char *sock_path, int master, const char *name)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = (void *)name, .iov_len = strlen(name) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			      .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	int s, ret = 0;

	if (strlen(sock_path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, sock_path);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &master, sizeof(int));
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) || sendmsg(s, &msg, MSG_NOSIGNAL) < 0)
		ret = -errno;
	close(s);
	return ret;
}

static int open_pty(int *master, char *name, size_t len)
{
	*master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (*master < 0)
		return -errno;
	if (grantpt(*master) || unlockpt(*master) || ptsname_r(*master, name, len)) {
		int ret = -errno;

		close(*master);
		return ret;
	}
	return 0;
}

/* In the forked child: the pty's slave as stdin, stdout, stderr and
 * controlling terminal, as a container with process.terminal has. */
static void use_pty(const char *name, int master)
{
	int fd = open(name, O_RDWR | O_CLOEXEC);

	close(master);
	if (fd < 0)
		_exit(OCI_EXIT_VM_FAILURE);
	ioctl(fd, TIOCSCTTY, 0);
	dup2(fd, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	if (fd > 2)
		close(fd);
}

/* The record create writes: the config's version and annotations, and
 * the container process identified by pid and start time. */
static struct json_object *initial_state(const char *id, const char *bundle,
					 const struct rt_proc *p)
{
	struct json_object *o = json_object_new_object(), *cfg, *ann = json_object_new_object();
	char path[PATH_MAX], when[32];
	time_t now = time(NULL);
	struct tm tm;
	struct jc_err e = { "" };

	snprintf(path, sizeof(path), "%s/%s", bundle, BUNDLE_CONFIG);
	if (jc_parse_file(path, BUNDLE_CONFIG, &cfg, &e))
		cfg = NULL;
	json_object_object_add(o, "ociVersion",
			       json_object_get(json_object_object_get(cfg, "ociVersion")));
	json_object_object_add(o, "id", json_object_new_string(id));
	json_object_object_add(o, "bundle", json_object_new_string(bundle));
	json_object_object_add(o, "pid", json_object_new_int(p->pid));
	json_object_object_add(o, "pid_start", json_object_new_int64((int64_t)p->start));
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_object_object_add(o, "created", json_object_new_string(when));
	/* runtime.md: the state's annotations are the config's (strings). */
	if (json_object_is_type(json_object_object_get(cfg, "annotations"), json_type_object)) {
		json_object_object_foreach(json_object_object_get(cfg, "annotations"), k, v)
			if (json_object_is_type(v, json_type_string))
				json_object_object_add(ann, k, json_object_get(v));
	}
	json_object_object_add(o, "annotations", ann);
	json_object_put(cfg);
	return o;
}

/* Ends a container process we forked or found, and waits until it is gone. */
static void end_process(const struct rt_proc *p, bool ours)
{
	/* Its own session and process group (setsid): the VMM with it. */
	if (rt_proc_alive(p)) {
		kill(-p->pid, SIGKILL);
		kill(p->pid, SIGKILL);
	}
	if (ours) {
		waitpid(p->pid, NULL, 0);
		return;
	}
	for (int ms = 0; ms < KILL_WAIT_MS && rt_proc_alive(p); ms += 10)
		usleep(10000);
}

static int spawn(const struct oci_create_opts *o, struct oci_proc_args *pa, struct rt_proc *p,
		 struct jc_err *e)
{
	char pty[64] = "", msg[320] = "";
	int ready[2], master = -1, ret;
	ssize_t n;
	pid_t pid;

	if (o->console_socket && (ret = open_pty(&master, pty, sizeof(pty))))
		return jc_fail(e, "", "cannot open a pseudo-terminal: %s", strerror(-ret)), ret;
	if (pipe2(ready, O_CLOEXEC)) {
		ret = -errno;
		if (master >= 0)
			close(master);
		return jc_fail(e, "", "pipe: %s", strerror(-ret)), ret;
	}
	pid = fork();
	if (pid == 0) {
		close(ready[0]);
		setsid();
		if (master >= 0)
			use_pty(pty, master);
		pa->self = getpid();
		oci_process_main(pa, ready[1]);
	}
	close(ready[1]);
	if (pid < 0) {
		ret = -errno;
		close(ready[0]);
		if (master >= 0)
			close(master);
		return jc_fail(e, "", "fork: %s", strerror(-ret)), ret;
	}
	n = read(ready[0], msg, sizeof(msg) - 1);
	close(ready[0]);
	p->pid = pid;
	p->start = 0;
	if (n != 1 || msg[0] || rt_proc_get(pid, p)) {
		if (n > 0)
			msg[n] = '\0';
		ret = jc_fail(e, "", "container '%s': its process did not start%s%s", o->id,
			      n > 1 ? ": " : "", n > 1 ? msg : "");
		p->start = 0;
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	} else if (master >= 0 && (ret = send_console(o->console_socket, master, pty))) {
		jc_fail(e, "", "--console-socket %s: cannot send the console: %s",
			o->console_socket, strerror(-ret));
		end_process(p, true);
	}
	if (master >= 0)
		close(master);
	return ret;
}

/* A container image as a VM: root.path packed into ROOT/ID's initramfs
 * now (create sets up everything start needs), and the guest's memory
 * large enough to hold it twice (the packed image, then the tree it
 * unpacks) besides what the process gets. */
static int pack_image(const struct oci_create_opts *o, const struct avp_bundle *b,
		      struct oci_proc_args *pa, struct jc_err *e)
{
	char dir[PATH_MAX], base[PATH_MAX + 16];
	unsigned long long bytes = 0, need;
	int ret;

	pa->image = true;
	if (rt_path(pa->initrd, sizeof(pa->initrd), o->root, o->id, OCI_INITRD_FILE) ||
	    rt_path(pa->vsock, sizeof(pa->vsock), o->root, o->id, "vsock.sock") ||
	    rt_path(pa->console, sizeof(pa->console), o->root, o->id, OCI_CONSOLE_LOG))
		return jc_fail(e, "", "state directory %s/%s: path too long", o->root, o->id);
	oci_default_dir(dir, sizeof(dir));
	snprintf(base, sizeof(base), "%s/%s", dir, OCI_BASE_CPIO);
	ret = oci_image_build(b->dir, b->oci_rootfs, base, pa->initrd, &bytes, e);
	if (ret)
		return ret;
	need = 2 * (bytes >> 20) + OCI_IMAGE_MEMORY_MIB;
	pa->memory_mib = b->cfg.memory_mib > need ? b->cfg.memory_mib : need;
	return 0;
}

int oci_create(const struct oci_create_opts *o, struct jc_err *e)
{
	struct oci_proc_args pa = { .log = *o->log, .preserve_fds = o->preserve_fds };
	struct jc_err be = { "" };
	struct avp_bundle b;
	struct json_object *st;
	struct rt_proc p = { 0 };
	char dir[PATH_MAX];
	int ret;

	if (rt_id_valid(o->id))
		return jc_fail(e, "", "ID '%s' is not valid: 1-64 characters of A-Z a-z 0-9 _ . -, "
			       "not starting with '.' or '-'", o->id);
	ret = bundle_load_ex(o->bundle, 0, &b, &be);
	if (ret)
		return jc_fail(e, "", "bundle %s: %s", o->bundle, be.text);
	if (!b.oci) {
		bundle_free(&b);
		return jc_fail(e, "", "bundle %s: config.json has no \"ociVersion\": an avp bundle "
			       "is created without runc's options (docs/runtime.md)", o->bundle);
	}
	pa.bundle = b.dir;
	/* ROOT/ID/api.sock must fit a Unix socket address. */
	if (rt_path(dir, sizeof(dir), o->root, o->id, NULL) || strlen(dir) > 80 ||
	    rt_path(pa.api_path, sizeof(pa.api_path), o->root, o->id, "api.sock") ||
	    rt_path(pa.fifo_path, sizeof(pa.fifo_path), o->root, o->id, OCI_START_FIFO)) {
		ret = jc_fail(e, "", "state directory %s/%s: path too long (keep --root short)",
			      o->root, o->id);
		goto out;
	}
	ret = rt_root_check(o->root, true, e);
	if (ret)
		goto out;
	if (mkdir(dir, 0700)) {
		ret = -errno;
		if (ret == -EEXIST)
			jc_fail(e, "", "container '%s' exists already (%s): pick another ID, or "
				"delete it first", o->id, dir);
		else
			jc_fail(e, "", "cannot create %s: %s", dir, strerror(-ret));
		goto out;
	}
	if (mkfifo(pa.fifo_path, 0600)) {
		ret = -errno;
		jc_fail(e, "", "cannot create %s: %s", pa.fifo_path, strerror(-ret));
		goto undo;
	}
	if (b.oci_rootfs && (ret = pack_image(o, &b, &pa, e)))
		goto undo;
	ret = spawn(o, &pa, &p, e);
	if (ret)
		goto undo;
	st = initial_state(o->id, b.dir, &p);
	ret = write_state(o->root, o->id, st);
	json_object_put(st);
	if (ret)
		jc_fail(e, "", "cannot write %s/%s: %s", dir, OCI_STATE_FILE, strerror(-ret));
	else if (o->pid_file && (ret = write_pid_file(o->pid_file, p.pid)))
		jc_fail(e, "", "--pid-file %s: %s", o->pid_file, strerror(-ret));
	if (ret)
		end_process(&p, true);
undo:
	if (ret)
		rt_remove_state_dir(o->root, o->id);
out:
	bundle_free(&b);
	return ret;
}

int oci_start(const char *root, const char *id, struct jc_err *e)
{
	char path[PATH_MAX];
	struct oci_rec r;
	struct stat st;
	int fd, ret = load(root, id, &r, e);

	if (ret)
		return ret;
	if (strcmp(r.status, "created") != 0) {
		/* runtime.md "Start": only a created container starts. */
		jc_fail(e, "", "container '%s' is %s: only a created container can start", id,
			r.status);
		rec_free(&r);
		return -EINVAL;
	}
	rec_free(&r);
	if (rt_path(path, sizeof(path), root, id, OCI_START_FIFO))
		return -ENAMETOOLONG;
	/* Non-blocking: ENXIO rather than a hang when its reader is gone. */
	fd = open(path, O_WRONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) || !S_ISFIFO(st.st_mode) || write(fd, "1", 1) != 1) {
		ret = errno == ENXIO ? -ESRCH : -errno;
		if (fd >= 0)
			close(fd);
		return jc_fail(e, "", "container '%s': cannot start it: %s", id,
			       ret == -ESRCH ? "its process has ended" : strerror(-ret)), ret;
	}
	close(fd);
	unlink(path);
	return 0;
}

int oci_state(const char *root, const char *id, struct json_object **out, struct jc_err *e)
{
	struct json_object *o, *avp;
	struct oci_rec r;
	int ret = load(root, id, &r, e);

	if (ret)
		return ret;
	o = json_object_new_object();
	json_object_object_add(o, "ociVersion",
			       json_object_get(json_object_object_get(r.j, "ociVersion")));
	json_object_object_add(o, "id", json_object_new_string(id));
	json_object_object_add(o, "status", json_object_new_string(r.status));
	json_object_object_add(o, "pid",
			       json_object_new_int(strcmp(r.status, "stopped") ? r.proc.pid : 0));
	json_object_object_add(o, "bundle", json_object_get(json_object_object_get(r.j, "bundle")));
	json_object_object_add(o, "annotations",
			       json_object_get(json_object_object_get(r.j, "annotations")));
	/* avp's own, beside the spec's keys (which readers must not mind). */
	avp = json_object_new_object();
	json_object_object_add(avp, "created", json_object_get(json_object_object_get(r.j, "created")));
	json_object_object_add(avp, "kind", json_object_new_string("oci"));
	json_object_object_add(o, "org.avp", avp);
	rec_free(&r);
	*out = o;
	return 0;
}

int oci_kill(const char *root, const char *id, int sig, struct jc_err *e)
{
	struct oci_rec r;
	int ret = load(root, id, &r, e);

	if (ret)
		return ret;
	if (strcmp(r.status, "stopped") == 0) {
		jc_fail(e, "", "container '%s' is not running (stopped)", id);
		ret = -ESRCH;
	} else if (kill(r.proc.pid, sig)) {
		ret = -errno;
		jc_fail(e, "", "container '%s': kill: %s", id, strerror(-ret));
	}
	rec_free(&r);
	return ret;
}

int oci_delete(const char *root, const char *id, bool force, struct jc_err *e)
{
	struct oci_rec r;
	int ret = load(root, id, &r, e);

	if (ret)
		return ret;
	/* runtime.md "Delete": refused while the process runs; a created
	 * container never ran anything and goes (as with runc). */
	if (strcmp(r.status, "running") == 0 && !force) {
		rec_free(&r);
		return jc_fail(e, "", "container '%s' is running: stop it first (avp kill %s), or "
			       "delete --force", id, id), -EBUSY;
	}
	if (strcmp(r.status, "stopped") != 0)
		end_process(&r.proc, false);
	rec_free(&r);
	if (rt_proc_alive(&r.proc))
		return jc_fail(e, "", "container '%s': its process does not end", id), -EBUSY;
	ret = rt_remove_state_dir(root, id);
	if (ret)
		jc_fail(e, "", "container '%s': cannot remove its state: %s", id, strerror(-ret));
	return ret;
}

/* The container process and its descendants (the VMM, which may have
 * helpers of its own): what runc's `ps` lists from the container's cgroup.
 * A sweep of /proc per generation; a process forked meanwhile may be
 * missed, as with a cgroup read at one instant. */
static int add_descendants(pid_t *pids, size_t *n, size_t max)
{
	size_t before;

	do {
		struct dirent *d;
		DIR *dp = opendir("/proc");

		if (!dp)
			return -errno;
		before = *n;
		while ((d = readdir(dp)) && *n < max) {
			char *end;
			long pid = strtol(d->d_name, &end, 10);
			pid_t parent;
			bool known = false, child = false;

			if (*end || pid <= 0 || rt_proc_parent((pid_t)pid, &parent))
				continue;
			for (size_t i = 0; i < *n; i++) {
				known |= pids[i] == pid;
				child |= pids[i] == parent;
			}
			if (child && !known)
				pids[(*n)++] = (pid_t)pid;
		}
		closedir(dp);
	} while (*n > before && *n < max);
	return 0;
}

int oci_pids(const char *root, const char *id, pid_t *pids, size_t max, size_t *n,
	     struct jc_err *e)
{
	struct oci_rec r;
	int ret = load(root, id, &r, e);

	*n = 0;
	if (ret)
		return ret;
	/* A stopped container has no processes: runc lists an empty cgroup. */
	if (strcmp(r.status, "stopped") != 0 && max) {
		pids[(*n)++] = r.proc.pid;
		ret = add_descendants(pids, n, max);
		if (ret)
			jc_fail(e, "", "container '%s': cannot read /proc: %s", id, strerror(-ret));
	}
	rec_free(&r);
	return ret;
}
