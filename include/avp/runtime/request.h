/* One JSON-lines request over a Unix stream socket: the runtime CLI talks
 * to a VM's monitor this way (ROOT/ID/ctl.sock), and the monitor to the
 * VM's control socket (ROOT/ID/api.sock, docs/api.md). */
#ifndef AVP_RUNTIME_REQUEST_H
#define AVP_RUNTIME_REQUEST_H

#include <stddef.h>

/* Sends line (a '\n' is appended) and reads one reply line into reply
 * (NUL-terminated, newline removed), waiting at most timeout_ms in all.
 * 0 or -errno (-ECONNREFUSED/-ENOENT: nobody listens; -ETIMEDOUT). */
int rt_request(const char *sock_path, const char *line, char *reply, size_t replylen,
	       int timeout_ms);

#endif
