/* The runtime's state directory: ROOT and one ROOT/ID per VM. The runtime
 * usually runs as root and writes, reads, signals and deletes on the word
 * of what it finds there, so it trusts a directory only when nobody but
 * the caller (and root) could have put anything in it or swapped it:
 *
 * - ROOT and ROOT/ID are real directories (not symbolic links), owned by
 *   the caller, writable by nobody else (no group or other write bit);
 * - every directory above ROOT belongs to root or the caller and is not
 *   writable by others, unless it has the sticky bit (like /tmp, where
 *   nobody can rename or remove an entry of someone else).
 *
 * Files in it are opened with O_NOFOLLOW (temporaries also O_EXCL), so a
 * link planted anyway is never followed. */
#ifndef AVP_RUNTIME_STATEDIR_H
#define AVP_RUNTIME_STATEDIR_H

#include <stdbool.h>
#include <sys/types.h>

#include "avp/runtime/jsoncheck.h"

/* Checks ROOT as above; with create, makes it first when missing (mode
 * 0755, and its missing parents). -ENOENT (without a message) when it
 * does not exist and !create; -EPERM with the reason in e when it is not
 * to be trusted. */
int rt_root_check(const char *root, bool create, struct jc_err *e);

/* Checks ROOT/ID as above. -ENOENT without a message when it is missing. */
int rt_vmdir_check(const char *root, const char *id, struct jc_err *e);

/* open(path, flags | O_NOFOLLOW | O_CLOEXEC, mode), refusing anything but
 * a regular file (a FIFO or device planted under a runtime name). Opens
 * non-blocking and clears it again, so a FIFO cannot hang the open. */
int rt_open_file(const char *path, int flags, mode_t mode);

#endif
