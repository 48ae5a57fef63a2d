/* Guest side of tests/realguest/durability.sh (AVP-BLK-2): writes a known
 * pattern to a block device, then prints a marker line on the console the
 * moment the data is (or is not yet) flushed, for the host to SIGKILL avp
 * right then and inspect the image.
 *
 *   fsync_marker sync DEV OFF LEN   write tag A over [OFF, OFF+LEN) through the
 *                                   page cache, fsync, print AVP-DUR-SYNCED
 *   fsync_marker torn DEV OFF LEN   O_DIRECT 4 KiB writes, no flush, tags B
 *                                   and C in alternating passes; prints
 *                                   AVP-DUR-UNFLUSHED after the first 16
 *
 * Both then keep the VM alive (sync: sleeps; torn: keeps writing) until
 * the host kills it. The pattern is a function of the tag and the absolute
 * sector, so the host can tell every 512-byte sector apart: "DUR" + tag +
 * 12 hex digits of the sector number (low 48 bits), then (sector * 131 + i * 7 + tag)
 * & 0xff for byte i. Static, libc only (built by scripts/mkguest). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SECTOR 512
#define BLOCK 4096
#define FIRST_BLOCKS 16 /* written (and completed) before the torn marker */
#define STRIDE 37	/* visiting order: block (k * STRIDE) % nblocks */

static void fill(uint8_t *buf, uint64_t off, size_t len, char tag)
{
	for (size_t s = 0; s < len / SECTOR; s++) {
		uint64_t sector = off / SECTOR + s;
		uint8_t *p = buf + s * SECTOR;
		char head[20];

		for (int i = 16; i < SECTOR; i++)
			p[i] = (uint8_t)(sector * 131 + (uint64_t)i * 7 + (uint8_t)tag);
		snprintf(head, sizeof(head), "DUR%c%012llx", tag,
			 (unsigned long long)(sector & 0xffffffffffffull));
		memcpy(p, head, 16);
	}
}

static void say(const char *line)
{
	/* One write, straight to the console: no stdio buffering between
	 * the flush and the marker. */
	if (write(1, line, strlen(line)) < 0)
		exit(3);
}

static int do_sync(const char *dev, uint64_t off, uint64_t len)
{
	uint8_t *buf = malloc(len);
	int fd = open(dev, O_RDWR);

	if (!buf || fd < 0) {
		perror(dev);
		return 1;
	}
	fill(buf, off, len, 'A');
	if (pwrite(fd, buf, len, (off_t)off) != (ssize_t)len) {
		perror("pwrite");
		return 1;
	}
	if (fsync(fd)) {
		perror("fsync");
		return 1;
	}
	say("AVP-DUR-SYNCED\n");
	for (;;)
		pause();
}

static int do_torn(const char *dev, uint64_t off, uint64_t len)
{
	uint64_t nblocks = len / BLOCK;
	uint8_t *buf;
	int fd = open(dev, O_RDWR | O_DIRECT);

	if (fd < 0 || posix_memalign((void **)&buf, BLOCK, BLOCK)) {
		perror(dev);
		return 1;
	}
	for (uint64_t pass = 0;; pass++) {
		char tag = pass % 2 ? 'C' : 'B';

		for (uint64_t k = 0; k < nblocks; k++) {
			uint64_t b = (k * STRIDE) % nblocks;
			uint64_t o = off + b * BLOCK;

			fill(buf, o, BLOCK, tag);
			if (pwrite(fd, buf, BLOCK, (off_t)o) != BLOCK) {
				perror("pwrite");
				return 1;
			}
			if (pass == 0 && k + 1 == FIRST_BLOCKS)
				say("AVP-DUR-UNFLUSHED\n");
		}
	}
}

int main(int argc, char **argv)
{
	uint64_t off, len;

	if (argc != 5) {
		fprintf(stderr, "usage: fsync_marker sync|torn DEV OFF LEN\n");
		return 2;
	}
	off = strtoull(argv[3], NULL, 0);
	len = strtoull(argv[4], NULL, 0);
	if (off % BLOCK || len % BLOCK || len / BLOCK < FIRST_BLOCKS) {
		fprintf(stderr, "fsync_marker: OFF and LEN must be 4 KiB multiples, LEN >= 64 KiB\n");
		return 2;
	}
	if (strcmp(argv[1], "sync") == 0)
		return do_sync(argv[2], off, len);
	if (strcmp(argv[1], "torn") == 0)
		return do_torn(argv[2], off, len);
	fprintf(stderr, "fsync_marker: unknown mode %s\n", argv[1]);
	return 2;
}
