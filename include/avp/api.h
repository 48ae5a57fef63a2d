/* The per-VM control socket (avp run --api-sock PATH).
 *
 * Wire format (docs/api.md): a Unix stream socket carrying JSON lines.
 * Each request is one JSON object on one line,
 *     {"cmd":"status"}  or  {"cmd":"input","args":{...},"id":7}
 * and gets exactly one reply line, in order:
 *     {"ok":true,...}   or  {"ok":false,"error":"what went wrong"}
 * ("id", when given, is echoed back so a client can match replies).
 *
 * The server runs on its own thread and never blocks on a client or the
 * guest: several clients at once (API_MAX_CLIENTS), one outstanding reply
 * per client (a client that does not read its replies is not read from),
 * requests capped at API_MAX_REQUEST bytes (longer: an error reply, then
 * the connection is closed), malformed JSON gets an error reply.
 *
 * Built-in commands: "status", "shutdown" (ACPI power button, optional
 * forced stop after a timeout), "kill". Devices add theirs through
 * vm_api_register (avp/api_cmd.h); the server dispatches to them. */
#ifndef AVP_API_H
#define AVP_API_H

#include <stddef.h>

#include "avp/api_cmd.h"

struct json_object;
struct vm;

#define API_MAX_REQUEST (64 * 1024) /* bytes in one request line, newline excluded */
#define API_MAX_CLIENTS 16	    /* connected at once; more are told so and closed */
#define API_MAX_CMD_LEN 64
#define API_MAX_DEPTH 16	    /* nesting of JSON containers in a request */
#define API_MAX_SHUTDOWN_TIMEOUT_S 3600

/* ---- one request (src/api/request.c; no I/O, so it can be fuzzed) ---- */

struct api_request {
	char cmd[API_MAX_CMD_LEN + 1];
	struct json_object *args; /* the "args" object, or NULL; owned */
	struct json_object *id;	  /* the "id" to echo, or NULL; owned */
};

/* Parses one request line (its newline removed). Returns 0 with *req
 * filled in (release it with api_request_free), or -EINVAL (not a valid
 * request), -E2BIG (longer than API_MAX_REQUEST) or -ENOMEM, with a
 * one-line reason for the client in err. */
int api_request_parse(const char *line, size_t len, struct api_request *req, char *err,
		      size_t errlen);
void api_request_free(struct api_request *req);

/* {"ok":true} plus the request's "id" (req may be NULL). */
struct json_object *api_reply_new(const struct api_request *req);
/* Turns reply into {"ok":false,"error":msg,...}; keeps an "error" the
 * handler already set when msg is NULL. */
void api_reply_fail(struct json_object *reply, const char *msg);
/* The reply as one line ending in '\n' (malloc'd), or NULL. */
char *api_reply_format(struct json_object *reply, size_t *len);

/* ---- the server (src/api/server.c) ---- */

struct api_server;

/* Creates the socket at path (a stale socket left by a dead avp is
 * replaced; a live one, or any other file, is an error). Reports errors
 * naming the path. 0 or -errno. */
int api_server_create(struct api_server **out, struct vm *vm, const char *path);
/* Starts serving on a thread of its own (all signals blocked there). */
int api_server_start(struct api_server *s);
/* Stops the thread, disconnects the clients, removes the socket file.
 * NULL is fine. Call before the devices are destroyed: their commands
 * run on the server thread. */
void api_server_destroy(struct api_server *s);

#endif
