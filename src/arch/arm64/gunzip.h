/* Image.gz: a gzip-compressed arm64 Image (what `make Image.gz` builds and
 * some distributions ship as vmlinuz), inflated with zlib before the
 * Image's own checks run on the result. Pure, like image.h: bytes in,
 * bytes out, so every malformed stream is unit-testable and fuzzable on
 * any host. */
#ifndef AVP_ARCH_ARM64_GUNZIP_H
#define AVP_ARCH_ARM64_GUNZIP_H

#include <stddef.h>
#include <stdint.h>

/* Inflates the gzip stream (RFC 1952, its first member) in in[0, in_len).
 * The first out_len bytes of what it holds go to out (NULL with out_len
 * 0 keeps nothing); the rest is only counted. 0 and *total, the stream's
 * full decompressed size; or, after one avp_err() naming name: -EINVAL
 * (corrupt, or cut short), -EFBIG (it holds more than limit bytes:
 * inflating stops there, so a small file cannot make avp inflate without
 * end), -ENOMEM. */
int arm64_gunzip(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_len, uint64_t limit,
		 const char *name, uint64_t *total);

/* The same into a buffer of its own (free()), *len bytes long. The
 * stream's trailer (ISIZE) only sizes the first try: it may lie. */
int arm64_gunzip_alloc(const uint8_t *in, size_t in_len, uint64_t limit, const char *name,
		       uint8_t **out, uint64_t *len);

#endif
