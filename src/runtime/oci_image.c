/* A container image as a VM (oci_image.h, docs/oci.md): `create` packs
 * root.path into the guest's initramfs, after avp's init and its modules
 * (base.cpio) and before the process description, as newc cpio
 * (the kernel's initramfs format, Documentation/driver-api/early-userspace/
 * buffer-format.rst): a tree of 100 MiB packs in about 0.3 s and needs no
 * file system driver in the guest; the guest's root is then a tmpfs that
 * holds it, writable, gone with the VM. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "avp/runtime/bundle.h"
#include "avp/runtime/oci_guest.h"
#include "avp/runtime/oci_image.h"

#define COPY_CHUNK (256 * 1024)

struct cpio {
	FILE *out;
	unsigned long long bytes;
	unsigned int ino;
	const char *root; /* the tree being packed */
	size_t root_len;
	int err;
};

/* nftw has no context argument; `create` packs one tree at a time. */
static struct cpio *walking;

static void pad(struct cpio *c)
{
	static const char zeros[4];
	size_t n = (4 - c->bytes % 4) % 4;

	fwrite(zeros, 1, n, c->out);
	c->bytes += n;
}

static void header(struct cpio *c, const char *name, mode_t mode, uid_t uid, gid_t gid,
		   unsigned long long mtime, unsigned long long size, dev_t rdev)
{
	int n = fprintf(c->out, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
			++c->ino, (unsigned int)mode, (unsigned int)uid, (unsigned int)gid, 1u,
			(unsigned int)mtime, (unsigned int)size, 0u, 0u, major(rdev), minor(rdev),
			(unsigned int)strlen(name) + 1, 0u);

	c->bytes += (unsigned long long)(n > 0 ? n : 0);
	fwrite(name, 1, strlen(name) + 1, c->out);
	c->bytes += strlen(name) + 1;
	pad(c);
}

static void data(struct cpio *c, const void *p, size_t n)
{
	fwrite(p, 1, n, c->out);
	c->bytes += n;
}

static int add_file_fd(struct cpio *c, const char *name, int fd, const struct stat *st)
{
	char *buf = malloc(COPY_CHUNK);
	unsigned long long left = (unsigned long long)st->st_size;

	if (!buf)
		return -ENOMEM;
	header(c, name, st->st_mode, st->st_uid, st->st_gid, (unsigned long long)st->st_mtime,
	       left, 0);
	while (left) {
		ssize_t n = read(fd, buf, left < COPY_CHUNK ? left : COPY_CHUNK);

		if (n <= 0) {
			free(buf);
			return n < 0 ? -errno : -EIO; /* shrank while packed */
		}
		data(c, buf, (size_t)n);
		left -= (unsigned long long)n;
	}
	free(buf);
	pad(c);
	return 0;
}

static int visit(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	struct cpio *c = walking;
	const char *name = path + c->root_len;
	char target[PATH_MAX];
	ssize_t n;
	int fd;

	(void)type;
	(void)ftw;
	while (*name == '/')
		name++;
	if (!*name)
		return 0; /* the tree's top is the initramfs's root */
	if ((unsigned long long)st->st_size > 0xffffffffull) {
		c->err = -EFBIG;
		return 1;
	}
	switch (st->st_mode & S_IFMT) {
	case S_IFREG:
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		c->err = fd < 0 ? -errno : add_file_fd(c, name, fd, st);
		if (fd >= 0)
			close(fd);
		break;
	case S_IFLNK:
		n = readlink(path, target, sizeof(target));
		if (n < 0 || n >= (ssize_t)sizeof(target)) {
			c->err = n < 0 ? -errno : -ENAMETOOLONG;
			break;
		}
		header(c, name, st->st_mode, st->st_uid, st->st_gid,
		       (unsigned long long)st->st_mtime, (unsigned long long)n, 0);
		data(c, target, (size_t)n);
		pad(c);
		break;
	case S_IFDIR:
	case S_IFCHR:
	case S_IFBLK:
	case S_IFIFO:
		header(c, name, st->st_mode, st->st_uid, st->st_gid,
		       (unsigned long long)st->st_mtime, 0, st->st_rdev);
		break;
	default:
		break; /* sockets mean nothing in a fresh guest */
	}
	if (c->err)
		fprintf(stderr, "avp: %s: %s\n", path, strerror(-c->err));
	return c->err ? 1 : 0;
}

static void add_bytes(struct cpio *c, const char *name, const char *p, size_t n)
{
	header(c, name, S_IFREG | 0644, 0, 0, 0, n, 0);
	data(c, p, n);
	pad(c);
}

/* One record of /.avp/config (oci_guest.h): a tag, the value, a NUL. */
static int record(char *buf, size_t len, size_t *used, char tag, const char *value)
{
	size_t n = strlen(value) + 2;

	if (*used + n > len)
		return -E2BIG;
	buf[*used] = tag;
	memcpy(buf + *used + 1, value, n - 1);
	*used += n;
	return 0;
}

static int strings(struct json_object *arr, const char *where, char tag, char *buf, size_t len,
		   size_t *used, struct jc_err *e)
{
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		struct json_object *v = json_object_array_get_idx(arr, i);
		char path[JC_PATH_MAX];

		jc_path_index(path, sizeof(path), where, i);
		if (!json_object_is_type(v, json_type_string))
			return jc_fail(e, path, "expected a string, got %s", jc_type_name(v));
		if (record(buf, len, used, tag, json_object_get_string(v)))
			return jc_fail(e, where, "too long for the guest (at most %zu bytes)", len);
	}
	return 0;
}

/* process (config.md): args (required), env, cwd, user.uid/gid, and the
 * hostname, as /.avp/config. */
static int describe_process(struct json_object *cfg, char *buf, size_t len, size_t *used,
			    struct jc_err *e)
{
	struct json_object *proc, *arr, *user;
	const char *s;
	int64_t id;
	char num[24];
	int ret = jc_get_object(cfg, "", "process", true, &proc, e);

	if (ret || (ret = jc_get_array(proc, "process", "args", true, &arr, e)))
		return ret;
	if (!json_object_array_length(arr))
		return jc_fail(e, "process.args", "empty: nothing to run");
	if ((ret = strings(arr, "process.args", 'A', buf, len, used, e)))
		return ret;
	ret = jc_get_array(proc, "process", "env", false, &arr, e);
	if (ret == 0)
		ret = strings(arr, "process.env", 'E', buf, len, used, e);
	if (ret && ret != -ENOENT)
		return ret;
	ret = jc_get_string(proc, "process", "cwd", false, &s, e);
	if (ret == 0 && record(buf, len, used, 'C', s))
		return -E2BIG;
	if (ret && ret != -ENOENT)
		return ret;
	if (jc_get_object(proc, "process", "user", false, &user, e) == 0) {
		if (jc_get_int(user, "process.user", "uid", false, 0, UINT32_MAX - 1, &id, e) == 0) {
			snprintf(num, sizeof(num), "%lld", (long long)id);
			record(buf, len, used, 'U', num);
		}
		if (jc_get_int(user, "process.user", "gid", false, 0, UINT32_MAX - 1, &id, e) == 0) {
			snprintf(num, sizeof(num), "%lld", (long long)id);
			record(buf, len, used, 'G', num);
		}
		if (e->text[0])
			return -EINVAL;
	}
	if (jc_get_string(cfg, "", "hostname", false, &s, e) == 0 &&
	    record(buf, len, used, 'H', s))
		return -E2BIG;
	return e->text[0] ? -EINVAL : 0;
}

/* Bind mounts of single files (podman's /etc/hostname, /etc/hosts,
 * /etc/resolv.conf) are copied to their destinations: the guest has no
 * host directory to mount them from. Directories and other mounts are not
 * carried (docs/oci.md). */
static int add_file_mounts(struct cpio *c, struct json_object *cfg)
{
	struct json_object *mounts = json_object_object_get(cfg, "mounts");

	if (!json_object_is_type(mounts, json_type_array))
		return 0;
	for (size_t i = 0; i < json_object_array_length(mounts); i++) {
		struct json_object *m = json_object_array_get_idx(mounts, i);
		const char *src = json_object_get_string(json_object_object_get(m, "source"));
		const char *dst = json_object_get_string(json_object_object_get(m, "destination"));
		const char *type = json_object_get_string(json_object_object_get(m, "type"));
		struct stat st;
		int fd, ret;

		if (!src || !dst || dst[0] != '/' || (type && strcmp(type, "bind") != 0))
			continue;
		fd = open(src, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size > (1 << 20)) {
			close(fd);
			continue;
		}
		ret = add_file_fd(c, dst + 1, fd, &st);
		close(fd);
		if (ret)
			return ret;
	}
	return 0;
}

int oci_image_build(const char *bundle_dir, const char *rootfs, const char *base_cpio,
		    const char *out_path, unsigned long long *bytes, struct jc_err *e)
{
	static char config[1 << 20];
	struct json_object *cfg;
	struct cpio c = { 0 };
	char path[PATH_MAX];
	size_t used = 0;
	struct stat st;
	int fd, ret;

	snprintf(path, sizeof(path), "%s/%s", bundle_dir, BUNDLE_CONFIG);
	ret = jc_parse_file(path, BUNDLE_CONFIG, &cfg, e);
	if (ret)
		return ret;
	ret = describe_process(cfg, config, sizeof(config), &used, e);
	if (ret)
		goto out;
	if (stat(rootfs, &st) || !S_ISDIR(st.st_mode)) {
		ret = jc_fail(e, "root.path", "%s is not a directory", rootfs);
		goto out;
	}
	fd = open(base_cpio, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = jc_fail(e, "", "avp's container init %s: %s (scripts/mkoci-init builds it)",
			      base_cpio, strerror(errno));
		goto out;
	}
	c.out = fopen(out_path, "wxe");
	if (!c.out) {
		ret = -errno;
		close(fd);
		jc_fail(e, "", "cannot create %s: %s", out_path, strerror(-ret));
		goto out;
	}
	/* avp's part, as built: its own archive, its own trailer. */
	for (ssize_t n; (n = read(fd, path, sizeof(path))) > 0;)
		data(&c, path, (size_t)n);
	close(fd);
	pad(&c);
	c.root = rootfs;
	c.root_len = strlen(rootfs);
	walking = &c;
	if (nftw(rootfs, visit, 64, FTW_PHYS) != 0 && !c.err)
		c.err = -errno;
	walking = NULL;
	if (!c.err)
		c.err = add_file_mounts(&c, cfg);
	if (!c.err) {
		/* Last, so that nothing of the tree replaces it. */
		add_bytes(&c, OCI_GUEST_CONFIG + 1, config, used);
		header(&c, "TRAILER!!!", 0, 0, 0, 0, 0, 0);
	}
	if ((fflush(c.out) || ferror(c.out)) && !c.err)
		c.err = -EIO;
	fclose(c.out);
	ret = c.err;
	if (ret) {
		unlink(out_path);
		jc_fail(e, "root.path", "cannot pack %s into the guest's initramfs: %s", rootfs,
			strerror(-ret));
	} else if (bytes) {
		*bytes = c.bytes;
	}
out:
	json_object_put(cfg);
	return ret;
}

const char *oci_dir_override;

int oci_default_dir(char *buf, size_t len)
{
	static const char *const rel[] = { "oci-init", "../share/avp/oci", NULL };
	char exe[PATH_MAX], *slash;
	ssize_t n;

	if (oci_dir_override)
		return snprintf(buf, len, "%s", oci_dir_override) < (int)len ? 0 : -ENAMETOOLONG;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return -errno;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (!slash)
		return -ENOENT;
	*slash = '\0';
	/* The build tree's (build/avp, build/oci-init/), then an install's. */
	for (size_t i = 0; rel[i]; i++) {
		struct stat st;

		if (snprintf(buf, len, "%s/%s", exe, rel[i]) < (int)len &&
		    stat(buf, &st) == 0 && S_ISDIR(st.st_mode))
			return 0;
	}
	snprintf(buf, len, "%s/%s", exe, rel[0]);
	return -ENOENT;
}
