/* Opening a file avp writes to on the user's behalf (a console log, a WAV
 * recording): never through a symbolic link, and never truncating anything
 * but a regular file, so that a path in a bundle or on a command line run
 * as root cannot be bent into clobbering another file or a device.
 * (src/core/outfile.c) */
#ifndef AVP_OUTFILE_H
#define AVP_OUTFILE_H

/* Opens path for writing, created with mode 0644 (less the umask) when it
 * does not exist. An existing regular file is emptied; a FIFO, a terminal
 * or a character device such as /dev/null is written as it is. what names
 * the output in the one error it reports ("--console file", ...). Returns
 * the fd (close-on-exec, blocking) or -errno: -ELOOP for a symbolic link,
 * -EISDIR, -EINVAL for a block device or socket. */
int avp_open_output(const char *what, const char *path);

/* The same verdicts without opening or creating anything (a pre-flight
 * check): 0 when path may be opened as an output, or -errno after one
 * error naming what. A path that does not exist yet passes when its
 * directory exists. */
int avp_check_output(const char *what, const char *path);

/* Where avp will create a listening Unix socket: nothing there yet, or a
 * socket (a stale one is replaced); its directory must exist. 0 or -errno
 * after one error naming what. */
int avp_check_socket_path(const char *what, const char *path);

#endif
