/* Commands of the per-VM control socket (avp run --api-sock PATH).
 *
 * The socket server (src/api/) owns the wire format; devices and the core
 * only register named commands on the VM, so a device that offers, say,
 * "screenshot" needs to know nothing about sockets. */
#ifndef AVP_API_CMD_H
#define AVP_API_CMD_H

struct json_object;
struct vm;

/* Handles one request. args is the request's "args" object (may be NULL);
 * the handler adds its result fields to reply. Returns 0, or -errno with
 * an optional human-readable message put in reply's "error" field by the
 * handler itself. Called on the control thread: take the device's lock. */
typedef int (*api_command_fn)(void *opaque, struct json_object *args, struct json_object *reply);

#define AVP_MAX_API_COMMANDS 32

struct api_command {
	const char *name;
	api_command_fn fn;
	void *opaque;
};

/* -EEXIST for a name taken, -ENOSPC when full. Register before the VM
 * starts (the table is not locked). */
int vm_api_register(struct vm *vm, const char *name, api_command_fn fn, void *opaque);
/* The command of that name, or NULL. */
const struct api_command *vm_api_find(const struct vm *vm, const char *name);

#endif
