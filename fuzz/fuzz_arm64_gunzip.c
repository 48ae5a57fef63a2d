/* libFuzzer target: the Image.gz inflater (src/arch/arm64/gunzip.c) on
 * arbitrary bytes, then the Image checks on what it inflated, as the
 * arm64 loader runs them (boot.c).
 *
 * Input: u16 bytes to keep (at most 4096), u16 limit in KiB (at most
 * 16 MiB, so a stream of zeros stops in microseconds), then the stream.
 *
 * Beyond the sanitizers: only the documented errors; a stream accepted
 * is no larger than the limit; keeping nothing, keeping the head and
 * keeping all (arm64_gunzip_alloc) agree on the result, the size and the
 * bytes they share. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arm64/gunzip.h"
#include "arch/arm64/image.h"
#include "fuzz_guest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

FUZZ_LOG_ERRORS_ONLY()

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz z = { data, size };
	size_t keep = fz_u16(&z) % 4097;
	uint64_t limit = (uint64_t)(fz_u16(&z) % (16 * 1024 + 1)) << 10;
	size_t in_len = z.n;
	uint8_t *in = malloc(in_len ? in_len : 1), *head = malloc(keep ? keep : 1), *all = NULL;
	uint64_t total = 0, counted = 0, all_len = 0;
	struct arm64_image_info ii;
	int ret, ret_count, ret_all;

	if (!in || !head)
		goto out;
	/* A buffer of exactly the stream's size, so that ASan sees any read
	 * past it. */
	fz_bytes(&z, in, in_len);
	ret = arm64_gunzip(in, in_len, keep ? head : NULL, keep, limit, "fuzz", &total);
	FUZZ_CHECK(ret == 0 || ret == -EINVAL || ret == -EFBIG || ret == -ENOMEM);
	ret_count = arm64_gunzip(in, in_len, NULL, 0, limit, "fuzz", &counted);
	ret_all = arm64_gunzip_alloc(in, in_len, limit, "fuzz", &all, &all_len);
	FUZZ_CHECK(ret == -ENOMEM || ret_count == -ENOMEM || ret_count == ret);
	FUZZ_CHECK(ret == -ENOMEM || ret_all == -ENOMEM || ret_all == ret);
	if (ret == 0 && ret_count == 0 && ret_all == 0) {
		size_t shared = total < keep ? (size_t)total : keep;

		FUZZ_CHECK(total <= limit);
		FUZZ_CHECK(counted == total && all_len == total);
		FUZZ_CHECK(all != NULL);
		FUZZ_CHECK(memcmp(all, head, shared) == 0);
		/* What the loader does next with the inflated Image. */
		if (arm64_image_parse(all, (size_t)all_len, all_len, "fuzz", &ii) == 0)
			FUZZ_CHECK(ii.file_size == all_len && ii.image_size >= all_len);
	}
	if (ret_all)
		FUZZ_CHECK(all == NULL);
out:
	free(all);
	free(head);
	free(in);
	return 0;
}
