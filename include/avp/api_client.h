/* The client side of a one-request exchange over a Unix stream socket:
 * one request line out, one reply line back. The control socket
 * (docs/api.md) and the runtime's monitor socket both speak it; avp api,
 * avp screenshot, the runtime CLI and the monitor are its callers. It
 * knows lines, not JSON: callers build the request and read the reply. */
#ifndef AVP_API_CLIENT_H
#define AVP_API_CLIENT_H

#include <stddef.h>

/* Which part of the exchange failed, for the caller's message. */
enum api_client_step {
	API_CLIENT_CONNECT,
	API_CLIENT_SEND,
	API_CLIENT_RECEIVE,
};

/* Connects to sock_path, sends line and a '\n', and reads the reply up to
 * its first newline into *reply (malloc'd, NUL-terminated, without the
 * newline; the caller frees it). The reply line may hold at most
 * max_reply bytes, newline included. timeout_ms bounds the whole exchange.
 * Returns 0, or -errno with *failed (when not NULL) set to the step:
 *   connect: -ENAMETOOLONG (sock_path does not fit a socket address),
 *            -ENOENT/-ECONNREFUSED (nobody listens), -ETIMEDOUT;
 *   send:    -EPIPE (the peer went away), -ETIMEDOUT;
 *   receive: -ETIMEDOUT (no whole line in time), -EMSGSIZE (longer than
 *            max_reply), -ECONNRESET (closed before a whole line), -ENOMEM.
 * Bytes after the reply's newline are ignored. */
int api_client_request(const char *sock_path, const char *line, size_t max_reply,
		       int timeout_ms, char **reply, enum api_client_step *failed);

#endif
