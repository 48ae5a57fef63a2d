/* The jail: namespaces, a private root and dropped privileges for the VM
 * process (include/avp/jail.h has the order of the steps and why).
 *
 * What is per thread and what is shared matters here, because the device
 * workers and the UART reader already run when the jail closes:
 *  - the root directory lives in the fs_struct that pthread threads share
 *    (CLONE_FS), and the mount namespace was entered before any thread
 *    existed, so pivot_root moves every thread into DIR at once;
 *  - uid, gid and groups are per thread in the kernel, but glibc's
 *    setuid/setgid/setgroups repeat the change on every thread (its
 *    SIGSETXID broadcast), so no thread keeps root;
 *  - network, IPC and UTS namespaces are per thread and can only be entered
 *    after the taps are open: the threads already running stay in the
 *    host's. No seccomp filter lets any thread create a socket, so that
 *    leaves them nothing to reach (docs/security.md). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "avp/jail.h"
#include "avp/log.h"

static int fail(const char *what, const char *detail)
{
	int err = errno ? errno : EINVAL;

	avp_err("jail: %s%s: %s", what, detail ? detail : "", strerror(err));
	return -err;
}

int jail_check(const struct avp_config *cfg)
{
	const struct avp_jail_cfg *j = &cfg->jail;
	char real[PATH_MAX];
	struct stat st;

	if (!j->enabled)
		return 0;
	if (!j->uid_set || !j->gid_set) {
		avp_err("jail: --jail needs --uid and --gid");
		return -EINVAL;
	}
	/* The root holds nothing the VM needs, since everything is open
	 * before it is entered; 0700 so that nobody can plant anything in a
	 * directory we created. */
	if (mkdir(j->dir, 0700) && errno != EEXIST)
		return fail("cannot create ", j->dir);
	if (!realpath(j->dir, real))
		return fail("cannot resolve ", j->dir);
	if (stat(real, &st))
		return fail("cannot stat ", real);
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return fail("the jail must be a directory: ", real);
	}
	if (strcmp(real, "/") == 0) {
		errno = EINVAL;
		return fail("the jail cannot be the host's root", NULL);
	}
	if (j->uid == 0 || j->gid == 0)
		avp_warn("jail: running the VM as uid %u gid %u keeps root's rights inside the jail",
			 j->uid, j->gid);
	return 0;
}

int jail_pidns_begin(int *saved_fd)
{
	int fd = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return fail("cannot open /proc/self/ns/pid (is /proc mounted?)", NULL);
	if (unshare(CLONE_NEWPID)) {
		int ret = fail("cannot create a PID namespace (--jail needs root)", NULL);

		close(fd);
		return ret;
	}
	*saved_fd = fd;
	return 0;
}

void jail_pidns_end(int saved_fd)
{
	/* Rejoining our own active namespace is always allowed. */
	if (setns(saved_fd, CLONE_NEWPID))
		avp_warn("jail: cannot restore the PID namespace for later VMs: %s", strerror(errno));
	close(saved_fd);
}

int jail_child_init(void)
{
	if (unshare(CLONE_NEWNS))
		return fail("cannot create a mount namespace (--jail needs root)", NULL);
	/* The jail's mounts must not show up on the host, and pivot_root
	 * refuses to work under a shared mount. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		return fail("cannot make the mounts private", NULL);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return fail("cannot set no_new_privs", NULL);
	return 0;
}

/* DIR becomes the root of the mount namespace, and so of every thread. */
static int change_root(const char *dir)
{
	/* pivot_root wants a mount point. */
	if (mount(dir, dir, NULL, MS_BIND | MS_REC, NULL))
		return fail("cannot bind-mount ", dir);
	if (chdir(dir))
		return fail("cannot enter ", dir);
	/* pivot_root(".", "."): the old root ends up stacked on top of the
	 * new one and is detached right away, so DIR needs no directory to
	 * hold it. */
	if (syscall(SYS_pivot_root, ".", ".") == 0) {
		if (umount2(".", MNT_DETACH))
			return fail("cannot detach the old root", NULL);
	} else if (errno == EINVAL) {
		/* The old root is the namespace's first mount (an initramfs),
		 * which cannot be moved: lay DIR over it and chroot, as
		 * switch_root does. Without CAP_SYS_CHROOT, gone after the uid
		 * drop, there is no way back under it. */
		avp_info("jail: pivot_root not possible here, using chroot");
		if (mount(".", "/", NULL, MS_MOVE, NULL))
			return fail("cannot move the jail over /", NULL);
		if (chroot("."))
			return fail("cannot chroot into ", dir);
	} else {
		return fail("pivot_root into ", dir);
	}
	if (chdir("/"))
		return fail("cannot enter the new root", NULL);
	/* Nothing in the jail is used: whatever it holds can be neither
	 * written, executed, nor used as a device or set-uid file. */
	if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  NULL))
		return fail("cannot make the jail read-only", NULL);
	return 0;
}

static int drop_ids(const struct avp_jail_cfg *j)
{
	uid_t ruid, euid, suid;
	gid_t rgid, egid, sgid;

	/* Groups and gid first: once the uid is gone, so is the right to
	 * change them. */
	if (setgroups(0, NULL))
		return fail("cannot drop the supplementary groups", NULL);
	if (setgid(j->gid))
		return fail("cannot set the gid", NULL);
	if (setuid(j->uid))
		return fail("cannot set the uid", NULL);
	/* Real, effective and saved IDs all changed, or the old ones could
	 * be taken back. */
	if (getresuid(&ruid, &euid, &suid) || getresgid(&rgid, &egid, &sgid))
		return fail("cannot read back the IDs", NULL);
	if (ruid != j->uid || euid != j->uid || suid != j->uid || rgid != j->gid ||
	    egid != j->gid || sgid != j->gid) {
		errno = EPERM;
		return fail("the uid/gid did not change completely", NULL);
	}
	return 0;
}

int jail_enter(const struct avp_config *cfg)
{
	const struct avp_jail_cfg *j = &cfg->jail;
	int ret;

	if (!j->enabled)
		return 0;
	/* The taps are open and stay attached to the host's network; the VM
	 * process itself gets an empty one. */
	if (unshare(CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS))
		return fail("cannot create network/IPC/UTS namespaces", NULL);
	ret = change_root(j->dir);
	if (ret)
		return ret;
	ret = drop_ids(j);
	if (ret)
		return ret;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return fail("cannot set no_new_privs", NULL);
	/* Other processes of uid N must not be able to ptrace or read the
	 * VM's memory. The kernel also clears the parent-death signal when
	 * the credentials change: the supervisor counts on it, set it again. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) || prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0))
		return fail("cannot make the process undumpable", NULL);
	avp_info("jail: VM confined to %s as uid %u gid %u", j->dir, j->uid, j->gid);
	return 0;
}
