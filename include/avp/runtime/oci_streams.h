/* The container's standard streams and exit status, carried from avp's
 * init in the guest by vsock (oci_guest.h) to the container process's own
 * stdin, stdout and stderr (src/runtime/oci_streams.c, docs/oci.md). */
#ifndef AVP_RUNTIME_OCI_STREAMS_H
#define AVP_RUNTIME_OCI_STREAMS_H
#include <poll.h>
#include <stdbool.h>

#define OCI_STREAMS 4 /* stdin, stdout, stderr, status: ports 1-4 */

struct oci_streams {
	char base[108];		/* the vsock device's socket; listeners are base_N */
	int listen[OCI_STREAMS], conn[OCI_STREAMS];
	bool in_eof;
	char line[32];
	unsigned int len;
	int status; /* the process's exit status as the guest said it; -1 not yet */
};

/* Listens on BASE_1 .. BASE_4 before the VMM starts: 0 or -errno. */
int oci_streams_listen(struct oci_streams *s, const char *base);
/* The descriptors to poll now, into p (at most 2 * OCI_STREAMS): n. */
int oci_streams_fds(const struct oci_streams *s, struct pollfd *p);
/* Carries what poll found on p[0..n-1]. */
void oci_streams_run(struct oci_streams *s, const struct pollfd *p, int n);
/* Has the guest's init connected (and so watches its power button)? */
bool oci_streams_guest_ready(const struct oci_streams *s);
/* Once the VMM has ended: what its streams still hold, then the sockets go. */
void oci_streams_finish(struct oci_streams *s);

#endif
