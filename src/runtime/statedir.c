/* Trust checks of the runtime's state directory (see statedir.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "avp/runtime/state.h"
#include "avp/runtime/statedir.h"

/* Missing components of path, each 0755; existing ones are left as they
 * are (the checks below judge them). */
static int mkdir_p(const char *path)
{
	char buf[PATH_MAX];

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0755) && errno != EEXIST)
		return -errno;
	return 0;
}

/* The directory that holds state itself (ROOT or ROOT/ID). */
static int check_own_dir(const char *path, const char *what, struct jc_err *e)
{
	struct stat st;

	if (lstat(path, &st)) {
		int err = errno;

		if (err != ENOENT)
			jc_fail(e, "", "%s %s: %s", what, path, strerror(err));
		return -err;
	}
	if (S_ISLNK(st.st_mode))
		return jc_fail(e, "", "%s %s is a symbolic link: give the directory itself", what,
			       path), -EPERM;
	if (!S_ISDIR(st.st_mode))
		return jc_fail(e, "", "%s %s is not a directory", what, path), -ENOTDIR;
	if (st.st_uid != geteuid())
		return jc_fail(e, "", "%s %s belongs to uid %u, not to you (uid %u): another user "
			       "could plant files there; use a directory of your own", what, path,
			       (unsigned int)st.st_uid, (unsigned int)geteuid()), -EPERM;
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return jc_fail(e, "", "%s %s is writable by %s (mode %04o): `chmod go-w %s`", what,
			       path, st.st_mode & S_IWOTH ? "everyone" : "its group",
			       (unsigned int)(st.st_mode & 07777), path), -EPERM;
	return 0;
}

/* Each directory above root: whoever may rename entries in it could swap
 * ROOT for a directory of their own after the check. */
static int check_ancestors(const char *root, struct jc_err *e)
{
	char buf[PATH_MAX];
	size_t n = 0, last;

	if (root[0] != '/') {
		if (!getcwd(buf, sizeof(buf))) {
			int err = errno;

			jc_fail(e, "", "runtime root %s: cannot tell the working directory: %s", root,
				strerror(err));
			return -err;
		}
		n = strlen(buf);
	}
	if (n + 1 + strlen(root) >= sizeof(buf))
		return jc_fail(e, "", "runtime root %s: path too long", root), -ENAMETOOLONG;
	if (root[0] != '/')
		buf[n++] = '/';
	strcpy(buf + n, root);
	/* "/" and every prefix that ends before a '/' and before root's own
	 * last component. */
	while (strlen(buf) > 1 && buf[strlen(buf) - 1] == '/')
		buf[strlen(buf) - 1] = '\0';
	last = (size_t)(strrchr(buf, '/') - buf);
	for (size_t i = 0; i <= last; i++) {
		struct stat st;
		char saved;

		if (buf[i] != '/' || (i > 0 && buf[i - 1] == '/'))
			continue;
		saved = buf[i ? i : 1];
		buf[i ? i : 1] = '\0';
		if (stat(buf, &st)) {
			int err = errno;

			jc_fail(e, "", "runtime root %s: %s: %s", root, buf, strerror(err));
			return -err;
		}
		if (st.st_uid != 0 && st.st_uid != geteuid()) {
			jc_fail(e, "", "runtime root %s: %s belongs to uid %u, who could replace the "
				"root: use a path whose directories belong to root or you", root, buf,
				(unsigned int)st.st_uid);
			return -EPERM;
		}
		if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX)) {
			jc_fail(e, "", "runtime root %s: %s is writable by others (mode %04o) without "
				"the sticky bit, so they could replace the root", root, buf,
				(unsigned int)(st.st_mode & 07777));
			return -EPERM;
		}
		buf[i ? i : 1] = saved;
	}
	return 0;
}

int rt_root_check(const char *root, bool create, struct jc_err *e)
{
	char path[PATH_MAX];
	int ret;

	if (!root || !*root)
		return jc_fail(e, "", "the runtime root is empty"), -EINVAL;
	if (create) {
		ret = mkdir_p(root);
		if (ret)
			return jc_fail(e, "", "cannot create the runtime root %s: %s", root,
				       strerror(-ret)), ret;
	}
	ret = check_ancestors(root, e);
	if (ret)
		return ret;
	/* "DIR/" would make lstat follow a link named DIR. */
	if (snprintf(path, sizeof(path), "%s", root) >= (int)sizeof(path))
		return jc_fail(e, "", "runtime root %s: path too long", root), -ENAMETOOLONG;
	for (size_t n = strlen(path); n > 1 && path[n - 1] == '/'; n--)
		path[n - 1] = '\0';
	return check_own_dir(path, "runtime root", e);
}

int rt_vmdir_check(const char *root, const char *id, struct jc_err *e)
{
	char dir[PATH_MAX];

	if (rt_path(dir, sizeof(dir), root, id, NULL))
		return jc_fail(e, "", "state directory %s/%s: path too long", root, id),
		       -ENAMETOOLONG;
	return check_own_dir(dir, "state directory", e);
}

int rt_open_file(const char *path, int flags, mode_t mode)
{
	int fd = open(path, flags | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, mode);
	struct stat st;

	if (fd < 0)
		return errno == ELOOP ? -EPERM : -errno;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EPERM;
	}
	if (!(flags & O_NONBLOCK) && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)) {
		int err = errno;

		close(fd);
		return -err;
	}
	return fd;
}
