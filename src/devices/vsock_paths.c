/* Colliding vsock socket paths (avp/devices/vsock_paths.h). */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avp/devices/vsock_paths.h"

/* Longer than any Unix socket path and its _PORT: such a path is no
 * socket avp binds or connects to, so compared as written. */
#define NORM_MAX 256

/* path without repeated '/', "." components or a trailing '/'. False when
 * it does not fit. */
static bool normalize(const char *path, char *out, size_t len)
{
	size_t o = 0;
	const char *p = path;

	if (*p == '/')
		out[o++] = '/';
	while (*p) {
		const char *s;
		size_t n;

		while (*p == '/')
			p++;
		s = p;
		while (*p && *p != '/')
			p++;
		n = (size_t)(p - s);
		if (n == 0 || (n == 1 && s[0] == '.'))
			continue;
		if (o + n + 2 > len)
			return false;
		if (o && out[o - 1] != '/')
			out[o++] = '/';
		memcpy(out + o, s, n);
		o += n;
	}
	if (o == 0)
		out[o++] = '.';
	out[o] = '\0';
	return true;
}

/* path is base + "_" + a port as "%u" writes it. */
static bool is_port_path(const char *path, const char *base)
{
	size_t lb = strlen(base);
	const char *d;
	uint64_t port = 0;

	if (strncmp(path, base, lb) || path[lb] != '_')
		return false;
	d = path + lb + 1;
	if (!*d || (d[0] == '0' && d[1]))
		return false;
	for (; *d; d++) {
		if (*d < '0' || *d > '9')
			return false;
		port = port * 10 + (uint64_t)(*d - '0');
		if (port > UINT32_MAX)
			return false;
	}
	return true;
}

bool vsock_socket_paths_same(const char *a, const char *b)
{
	char na[NORM_MAX], nb[NORM_MAX];

	if (!normalize(a, na, sizeof(na)) || !normalize(b, nb, sizeof(nb)))
		return strcmp(a, b) == 0;
	return strcmp(na, nb) == 0;
}

bool vsock_socket_paths_conflict(const char *a, const char *b)
{
	char na[NORM_MAX], nb[NORM_MAX];

	if (!normalize(a, na, sizeof(na)) || !normalize(b, nb, sizeof(nb)))
		return strcmp(a, b) == 0 || is_port_path(a, b) || is_port_path(b, a);
	return strcmp(na, nb) == 0 || is_port_path(na, nb) || is_port_path(nb, na);
}

int vsock_socket_path_resolve(const char *path, char *out, size_t len)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	char dir[PATH_MAX], real[PATH_MAX];
	int n;

	if (slash == path) {
		snprintf(dir, sizeof(dir), "/");
	} else if (slash) {
		if ((size_t)(slash - path) >= sizeof(dir))
			return -ENAMETOOLONG;
		memcpy(dir, path, (size_t)(slash - path));
		dir[slash - path] = '\0';
	} else {
		snprintf(dir, sizeof(dir), ".");
	}
	if (*base && strcmp(base, ".") && strcmp(base, "..") && realpath(dir, real))
		n = snprintf(out, len, "%s%s%s", real, strcmp(real, "/") ? "/" : "", base);
	else
		n = snprintf(out, len, "%s", path);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}
