/* Image.gz inflation (src/arch/arm64/gunzip.h) with zlib: inflateInit2
 * with 16 + MAX_WBITS reads the gzip wrapper (RFC 1952) itself and checks
 * its CRC-32 and ISIZE trailer. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "arch/arm64/gunzip.h"
#include "avp/le.h"
#include "avp/log.h"

/* Output past out_len lands here to be counted. */
#define SCRATCH (64u << 10)
/* zlib's counts are uInt: feed and take at most this much per call. */
#define CHUNK (1u << 30)

int arm64_gunzip(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_len, uint64_t limit,
		 const char *name, uint64_t *total)
{
	z_stream zs;
	uint8_t *scratch;
	uint64_t done = 0;
	int zret, err = 0;

	if (!name)
		name = "the kernel";
	if (!in || !total || (!out && out_len))
		return -EINVAL;
	scratch = malloc(SCRATCH);
	if (!scratch)
		return -ENOMEM;
	memset(&zs, 0, sizeof(zs));
	if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
		free(scratch);
		avp_err("%s: zlib cannot start inflating", name);
		return -ENOMEM;
	}
	do {
		uInt before;
		size_t in_left = in_len - (size_t)(zs.next_in ? zs.next_in - in : 0);

		if (!zs.next_in)
			zs.next_in = (Bytef *)in;
		if (!zs.avail_in)
			zs.avail_in = (uInt)(in_left < CHUNK ? in_left : CHUNK);
		if (done < out_len) {
			size_t room = out_len - (size_t)done;

			zs.next_out = out + done;
			zs.avail_out = (uInt)(room < CHUNK ? room : CHUNK);
		} else {
			zs.next_out = scratch;
			zs.avail_out = SCRATCH;
		}
		before = zs.avail_out;
		zret = inflate(&zs, Z_NO_FLUSH);
		done += before - zs.avail_out;
		if (done > limit) {
			err = -EFBIG;
			break;
		}
		/* Z_BUF_ERROR: no progress was possible, which with output
		 * room means the input ran out before the stream's end. */
		if (zret == Z_BUF_ERROR && zs.avail_out) {
			avp_err("%s is a gzip stream cut short (after %llu bytes of Image): a partial "
				"copy or download? give the whole Image.gz, or the Image",
				name, (unsigned long long)done);
			err = -EINVAL;
			break;
		}
		if (zret != Z_OK && zret != Z_STREAM_END && zret != Z_BUF_ERROR) {
			avp_err("%s: its gzip stream is corrupt (zlib: %s): give an intact Image.gz, "
				"or the Image", name, zs.msg ? zs.msg : zError(zret));
			err = -EINVAL;
			break;
		}
	} while (zret != Z_STREAM_END);
	inflateEnd(&zs);
	free(scratch);
	if (err == -EFBIG)
		avp_err("%s holds more than %llu MiB once inflated, more than the guest's RAM: give "
			"the VM more memory", name, (unsigned long long)(limit >> 20));
	if (!err)
		*total = done;
	return err;
}

int arm64_gunzip_alloc(const uint8_t *in, size_t in_len, uint64_t limit, const char *name,
		       uint8_t **out, uint64_t *len)
{
	uint64_t guess = in_len >= 18 ? get_le32(in + in_len - 4) : 0, total = 0;
	uint8_t *buf;
	int err;

	if (!out || !len)
		return -EINVAL;
	*out = NULL;
	if (guess > limit)
		guess = limit;
	for (int tries = 0; tries < 2; tries++) {
		buf = malloc(guess ? (size_t)guess : 1);
		if (!buf)
			return -ENOMEM;
		err = arm64_gunzip(in, in_len, buf, (size_t)guess, limit, name, &total);
		if (err || total <= guess)
			break;
		free(buf); /* the trailer lied: once more at the size counted */
		buf = NULL;
		guess = total;
	}
	if (err || !buf) {
		free(buf);
		return err ? err : -EINVAL;
	}
	*out = buf;
	*len = total;
	return 0;
}
