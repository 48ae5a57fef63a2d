/* See include/avp/outfile.h for what an output may be and why. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "avp/log.h"
#include "avp/outfile.h"

int avp_open_output(const char *what, const char *path)
{
	struct stat st;
	int fd, flags, err;

	/* No O_TRUNC: what the file is decides that, after the open. O_NONBLOCK
	 * keeps a FIFO without a reader from hanging the open itself. */
	fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC, 0644);
	if (fd < 0) {
		err = errno;
		if (err == ELOOP)
			avp_err("%s %s: is a symbolic link: avp does not write through links, give the file's own path",
				what, path);
		else if (err == ENXIO)
			avp_err("%s %s: a FIFO nobody reads: start its reader first", what, path);
		else
			avp_err("%s %s: cannot open for writing: %s", what, path, strerror(err));
		return -err;
	}
	if (fstat(fd, &st) < 0) {
		err = errno;
		avp_err("%s %s: cannot stat: %s", what, path, strerror(err));
		goto fail;
	}
	if (S_ISREG(st.st_mode)) {
		if (ftruncate(fd, 0) < 0) {
			err = errno;
			avp_err("%s %s: cannot empty the file: %s", what, path, strerror(err));
			goto fail;
		}
	} else if (!S_ISFIFO(st.st_mode) && !S_ISCHR(st.st_mode)) {
		avp_err("%s %s: not a regular file, FIFO or character device", what, path);
		err = EINVAL;
		goto fail;
	}
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0) {
		err = errno;
		avp_err("%s %s: %s", what, path, strerror(err));
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -err;
}

/* The directory a new file at path would be created in must exist. */
static int check_parent(const char *what, const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	struct stat st;

	if (!slash)
		return 0; /* the current directory */
	if ((size_t)(slash - path) >= sizeof(dir))
		return -ENAMETOOLONG;
	snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
	if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	avp_err("%s %s: its directory %s does not exist", what, path, dir);
	return -ENOENT;
}

/* lstat of a path avp is to create or write: 1 when nothing is there yet
 * (and its directory exists), 0 with *st filled, or -errno after one error. */
static int look(const char *what, const char *path, struct stat *st)
{
	if (lstat(path, st) == 0)
		return 0;
	if (errno == ENOENT) {
		int ret = check_parent(what, path);

		return ret ? ret : 1;
	}
	avp_err("%s %s: %s", what, path, strerror(errno));
	return -errno;
}

int avp_check_output(const char *what, const char *path)
{
	struct stat st;
	int ret = look(what, path, &st);

	if (ret)
		return ret > 0 ? 0 : ret;
	if (S_ISLNK(st.st_mode)) {
		avp_err("%s %s: is a symbolic link: avp does not write through links, give the file's own path",
			what, path);
		return -ELOOP;
	}
	if (S_ISDIR(st.st_mode)) {
		avp_err("%s %s: is a directory", what, path);
		return -EISDIR;
	}
	if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode) && !S_ISCHR(st.st_mode)) {
		avp_err("%s %s: not a regular file, FIFO or character device", what, path);
		return -EINVAL;
	}
	return 0;
}

int avp_check_socket_path(const char *what, const char *path)
{
	struct stat st;
	int ret = look(what, path, &st);

	if (ret)
		return ret > 0 ? 0 : ret;
	if (!S_ISSOCK(st.st_mode)) {
		avp_err("%s %s: exists and is not a socket: choose another path", what, path);
		return -EEXIST;
	}
	return 0;
}
