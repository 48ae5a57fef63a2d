/* A hostile virtio driver for the reference guest (issue 13 item 19):
 * takes every virtio-mmio device away from Linux and, for SECONDS, drives
 * its register interface (VIRTIO 1.2, 4.2.2) the way a broken or malicious
 * driver would, so the host can check that avp keeps running, keeps its
 * log bounded and its memory flat.
 *
 *   ringbreak [SECONDS]     (default 20)
 *
 * Each round on a device: reset, ACKNOWLEDGE|DRIVER, some feature set
 * (often a valid one, sometimes one the device must refuse), FEATURES_OK,
 * one queue set up with garbage, QueueReady, DRIVER_OK, a few
 * QueueNotify. The rings are either in pages of this program's own
 * mlock'ed memory (physical addresses from /proc/self/pagemap) filled with
 * fresh garbage each round, or at addresses that are wrong on purpose: out
 * of RAM, misaligned, over the register window. Every buffer address the
 * garbage names is either outside RAM or inside those same pages, and never
 * crosses a page, so whatever the device does to it stays inside this
 * program's memory: the guest survives its own attack.
 *
 * Output: "ringbreak: <dev> base=0x... device-id=N" per device found,
 * "ringbreak: <dev> <n> rounds, needs_reset seen <k>" per device at the
 * end, and "ringbreak: no access: ..." when /dev/mem refuses the window
 * (exit 2). Exit 0 when at least one device was attacked. */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define MAGIC 0x74726976u
#define R_MAGIC 0x000
#define R_VERSION 0x004
#define R_DEVICE_ID 0x008
#define R_DEV_FEAT 0x010
#define R_DEV_FEAT_SEL 0x014
#define R_DRV_FEAT 0x020
#define R_DRV_FEAT_SEL 0x024
#define R_QUEUE_SEL 0x030
#define R_QUEUE_NUM_MAX 0x034
#define R_QUEUE_NUM 0x038
#define R_QUEUE_READY 0x044
#define R_QUEUE_NOTIFY 0x050
#define R_INT_STATUS 0x060
#define R_INT_ACK 0x064
#define R_STATUS 0x070
#define R_DESC_LO 0x080
#define R_DESC_HI 0x084
#define R_DRIVER_LO 0x090
#define R_DRIVER_HI 0x094
#define R_DEVICE_LO 0x0a0
#define R_DEVICE_HI 0x0a4

#define S_ACK 1
#define S_DRIVER 2
#define S_DRIVER_OK 4
#define S_FEATURES_OK 8
#define S_NEEDS_RESET 0x40

#define PAGE 4096
#define NPAGES 16
#define MAXDEV 24

struct dev {
	char name[256];
	unsigned long long base;
	volatile uint32_t *regs; /* base of the device's window */
	void *map;
	uint32_t id;
	unsigned long rounds, needs_reset;
};

static struct dev devs[MAXDEV];
static int ndevs;
static unsigned char *pages;     /* NPAGES pages of our own, locked */
static uint64_t phys[NPAGES];    /* their guest-physical addresses */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	/* xorshift64*: cheap, and reproducible from the printed seed */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static uint32_t rd(struct dev *d, unsigned int off)
{
	return d->regs[off / 4];
}

static void wr(struct dev *d, unsigned int off, uint32_t v)
{
	d->regs[off / 4] = v;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	close(fd);
	return n < 0 ? -errno : 0;
}

/* The device's window from /proc/iomem: the line whose name is the
 * platform device's name (Linux names the resource after the device). */
static int find_base(const char *name, unsigned long long *base)
{
	FILE *f = fopen("/proc/iomem", "r");
	char line[256];
	int ret = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long a, b;
		char n[128];

		if (sscanf(line, " %llx-%llx : %127[^\n]", &a, &b, n) == 3 && strcmp(n, name) == 0) {
			*base = a;
			ret = 0;
			break;
		}
	}
	fclose(f);
	return ret;
}

static void print_iomem_around(unsigned long long base)
{
	FILE *f = fopen("/proc/iomem", "r");
	char line[256];

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long a, b;

		if (sscanf(line, " %llx-%llx", &a, &b) == 2 && a <= base + PAGE && b >= (base & ~0xfffull))
			printf("ringbreak: iomem: %s", line);
	}
	fclose(f);
}

static void find_devices(void)
{
	DIR *dir = opendir("/sys/bus/platform/devices");
	struct dirent *e;

	if (!dir) {
		printf("ringbreak: cannot list /sys/bus/platform/devices: %s\n", strerror(errno));
		return;
	}
	while ((e = readdir(dir)) && ndevs < MAXDEV) {
		struct dev *d = &devs[ndevs];
		char drv[512], link[512];
		ssize_t n;
		int ret;

		if (!strstr(e->d_name, "LNRO0005") && !strstr(e->d_name, "virtio_mmio") &&
		    !strstr(e->d_name, "virtio-mmio"))
			continue;
		snprintf(d->name, sizeof(d->name), "%s", e->d_name);
		snprintf(link, sizeof(link), "/sys/bus/platform/devices/%s/driver", e->d_name);
		n = readlink(link, drv, sizeof(drv) - 1);
		if (n > 0) {
			drv[n] = 0;
			printf("ringbreak: %s: bound to %s, unbinding\n", d->name, strrchr(drv, '/') + 1);
			ret = write_file("/sys/bus/platform/drivers/virtio-mmio/unbind", d->name);
			if (ret)
				printf("ringbreak: %s: unbind failed: %s\n", d->name, strerror(-ret));
		}
		if (find_base(d->name, &d->base)) {
			printf("ringbreak: %s: no window in /proc/iomem, skipped\n", d->name);
			continue;
		}
		ndevs++;
	}
	closedir(dir);
}

static int map_devices(void)
{
	int fd = open("/dev/mem", O_RDWR | O_SYNC);
	int usable = 0;

	if (fd < 0) {
		printf("ringbreak: no access: open /dev/mem: %s\n", strerror(errno));
		return 0;
	}
	for (int i = 0; i < ndevs; i++) {
		struct dev *d = &devs[i];
		unsigned long long pg = d->base & ~0xfffull;

		d->map = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)pg);
		if (d->map == MAP_FAILED) {
			printf("ringbreak: no access: %s: mmap /dev/mem at 0x%llx: %s "
			       "(CONFIG_STRICT_DEVMEM/IO_STRICT_DEVMEM refuse a busy region)\n",
			       d->name, pg, strerror(errno));
			print_iomem_around(d->base);
			d->map = NULL;
			continue;
		}
		d->regs = (volatile uint32_t *)((char *)d->map + (d->base - pg));
		if (rd(d, R_MAGIC) != MAGIC || rd(d, R_VERSION) != 2) {
			printf("ringbreak: no access: %s: the window at 0x%llx reads magic 0x%x version %u, "
			       "not a virtio-mmio v2 device\n",
			       d->name, d->base, rd(d, R_MAGIC), rd(d, R_VERSION));
			munmap(d->map, PAGE);
			d->map = NULL;
			d->regs = NULL;
			continue;
		}
		d->id = rd(d, R_DEVICE_ID);
		printf("ringbreak: %s base=0x%llx device-id=%u\n", d->name, d->base, d->id);
		usable++;
	}
	close(fd);
	return usable;
}

static int setup_pages(void)
{
	int fd;

	pages = aligned_alloc(PAGE, NPAGES * PAGE);
	if (!pages)
		return -ENOMEM;
	memset(pages, 0x5a, NPAGES * PAGE);
	if (mlock(pages, NPAGES * PAGE)) {
		printf("ringbreak: mlock: %s\n", strerror(errno));
		return -errno;
	}
	fd = open("/proc/self/pagemap", O_RDONLY);
	if (fd < 0) {
		printf("ringbreak: /proc/self/pagemap: %s\n", strerror(errno));
		return -errno;
	}
	for (int i = 0; i < NPAGES; i++) {
		uint64_t ent;
		off_t off = (off_t)((uintptr_t)(pages + i * PAGE) / PAGE * 8);

		if (pread(fd, &ent, 8, off) != 8 || !(ent & (1ull << 63)) ||
		    !(ent & ((1ull << 55) - 1))) {
			printf("ringbreak: pagemap gives no frame for page %d (need root)\n", i);
			close(fd);
			return -EPERM;
		}
		phys[i] = (ent & ((1ull << 55) - 1)) * PAGE;
	}
	close(fd);
	return 0;
}

/* Pages 0..RING_PAGES-1 hold rings, the others buffers. The device only
 * ever writes to buffers (WRITE descriptors) and to the used ring, so ring
 * pages other than the used one keep the harmless descriptors written
 * here, and an indirect table is always taken from the descriptor page. */
#define RING_PAGES 6

/* A guest-physical address for a buffer of len bytes that is either
 * outside RAM or inside one of our buffer pages, never across a page end. */
static uint64_t buf_addr(uint32_t *len)
{
	int p = RING_PAGES + (int)(rnd() % (NPAGES - RING_PAGES));
	uint32_t off;

	switch (rnd() % 4) {
	case 0:
		return rnd() | (1ull << 52); /* far outside any RAM */
	case 1:
		return 0xfee00000ull + (rnd() & 0xfff); /* the local APIC, not RAM */
	default:
		if (*len > PAGE)
			*len = (uint32_t)(rnd() % PAGE);
		off = *len == PAGE ? 0 : (uint32_t)(rnd() % (PAGE - *len + 1));
		return phys[p] + off;
	}
}

/* Fills ring page p with 256 descriptors that look almost right: bad
 * flags, loops, nexts past the end, lengths of any size, indirect tables
 * (in this same page) of the same sort. */
static void garbage_page(int p, uint16_t qsize)
{
	unsigned char *pg = pages + p * PAGE;

	for (unsigned int i = 0; i < PAGE / 16; i++) {
		uint8_t *dp = pg + 16 * i;
		uint32_t len = (uint32_t)(rnd() % 3 == 0 ? rnd() : rnd() % 512);
		uint16_t flags = (uint16_t)(rnd() & 7), next = (uint16_t)(rnd() % (qsize + 2u));
		uint64_t addr;

		if (flags & 4) { /* VIRTQ_DESC_F_INDIRECT */
			uint32_t n = 1 + (uint32_t)(rnd() % 32);

			addr = phys[p] + 16 * (rnd() % (PAGE / 16 - n + 1));
			len = rnd() % 4 ? 16 * n : (uint32_t)rnd() % 4096;
		} else {
			addr = buf_addr(&len);
		}
		memcpy(dp, &addr, 8);
		memcpy(dp + 8, &len, 4);
		memcpy(dp + 12, &flags, 2);
		memcpy(dp + 14, &next, 2);
	}
}

/* Ring addresses that are wrong on purpose. The used ring is written by
 * the device, so for it only addresses no RAM answers to, or that fail the
 * alignment check, are used. */
static uint64_t bad_ring_addr(struct dev *d, int is_used)
{
	switch (rnd() % (is_used ? 4 : 6)) {
	case 0:
		return 0x100000000000ull + (rnd() & 0xfffff000ull); /* out of RAM */
	case 1:
		return phys[rnd() % RING_PAGES] + 1; /* misaligned for every ring */
	case 2:
		return d->base; /* the register window itself */
	case 3:
		return rnd() | (1ull << 60);
	case 4:
		return 0;
	default:
		return phys[rnd() % RING_PAGES] + PAGE - 8; /* runs off our page */
	}
}

static void round_on(struct dev *d)
{
	uint32_t f0, f1, st, nmax;
	uint16_t q, qsize;
	int pd = (int)(rnd() % RING_PAGES), pa = (pd + 1 + (int)(rnd() % 2)) % RING_PAGES,
	    pu = (pd + 3 + (int)(rnd() % 3)) % RING_PAGES;
	uint64_t desc, avail, used;
	int bad_rings = rnd() % 4 == 0;

	wr(d, R_STATUS, 0);
	for (int i = 0; i < 1000 && rd(d, R_STATUS) != 0; i++)
		usleep(100);
	wr(d, R_STATUS, S_ACK);
	wr(d, R_STATUS, S_ACK | S_DRIVER);
	wr(d, R_DEV_FEAT_SEL, 0);
	f0 = rd(d, R_DEV_FEAT);
	wr(d, R_DEV_FEAT_SEL, 1);
	f1 = rd(d, R_DEV_FEAT);
	if (rnd() % 8 == 0) {
		f0 = (uint32_t)rnd(); /* features the device never offered */
		f1 = (uint32_t)rnd();
	} else {
		f0 &= (uint32_t)rnd();
		f1 &= (uint32_t)rnd() | 1; /* VERSION_1 (bit 32) mostly kept */
	}
	wr(d, R_DRV_FEAT_SEL, 0);
	wr(d, R_DRV_FEAT, f0);
	wr(d, R_DRV_FEAT_SEL, 1);
	wr(d, R_DRV_FEAT, f1);
	if (rnd() % 8)
		wr(d, R_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);

	q = rnd() % 4 ? 0 : (uint16_t)(rnd() % 6);
	wr(d, R_QUEUE_SEL, q);
	nmax = rd(d, R_QUEUE_NUM_MAX);
	if (nmax > 256)
		nmax = 256; /* a descriptor table must fit one of our pages */
	qsize = nmax ? (uint16_t)(1u << (rnd() % 9)) : 1;
	while (qsize > nmax && qsize > 1)
		qsize >>= 1;
	if (rnd() % 10 == 0)
		qsize = (uint16_t)rnd(); /* not a power of two, or too big */
	wr(d, R_QUEUE_NUM, qsize);

	garbage_page(pd, qsize);
	garbage_page(pa, qsize);
	garbage_page(pu, qsize);
	/* avail: flags, idx, then heads (mostly in range); used: zeros */
	for (unsigned int i = 0; i < 2 + 256u + 1; i++) {
		uint16_t h = (uint16_t)(rnd() % 4 ? rnd() % (qsize + 1u) : rnd());

		memcpy(pages + pa * PAGE + 2 * i, &h, 2);
	}
	memset(pages + pu * PAGE, 0, PAGE);
	desc = phys[pd];
	avail = phys[pa];
	used = phys[pu];
	if (bad_rings) {
		switch (rnd() % 3) {
		case 0: desc = bad_ring_addr(d, 0); break;
		case 1: avail = bad_ring_addr(d, 0); break;
		default: used = bad_ring_addr(d, 1); break;
		}
	}
	wr(d, R_DESC_LO, (uint32_t)desc);
	wr(d, R_DESC_HI, (uint32_t)(desc >> 32));
	wr(d, R_DRIVER_LO, (uint32_t)avail);
	wr(d, R_DRIVER_HI, (uint32_t)(avail >> 32));
	wr(d, R_DEVICE_LO, (uint32_t)used);
	wr(d, R_DEVICE_HI, (uint32_t)(used >> 32));
	wr(d, R_QUEUE_READY, 1);
	st = rd(d, R_STATUS);
	wr(d, R_STATUS, (st & ~S_NEEDS_RESET) | S_DRIVER_OK);

	/* Kick it a few times, moving avail->idx about in between. */
	for (int k = 0; k < 3; k++) {
		uint16_t idx = (uint16_t)(rnd() % 3 ? rnd() % (qsize + 1u) : rnd());

		memcpy(pages + pa * PAGE + 2, &idx, 2);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		wr(d, R_QUEUE_NOTIFY, rnd() % 5 ? q : (uint32_t)rnd());
		usleep(200);
	}
	usleep(500);
	st = rd(d, R_STATUS);
	if (st & S_NEEDS_RESET)
		d->needs_reset++;
	wr(d, R_INT_ACK, rd(d, R_INT_STATUS));
	d->rounds++;
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 20, t0, next_report;
	int usable;

	setvbuf(stdout, NULL, _IOLBF, 0);
	rng_state ^= (uint64_t)time(NULL) * 0x100000001b3ull;
	printf("ringbreak: seed 0x%llx, %.0f s\n", (unsigned long long)rng_state, secs);
	if (setup_pages())
		return 1;
	find_devices();
	if (ndevs == 0) {
		printf("ringbreak: no virtio-mmio devices found\n");
		return 1;
	}
	usable = map_devices();
	if (usable == 0) {
		printf("ringbreak: no access to any device window; nothing attacked\n");
		return 2;
	}
	printf("ringbreak: start, %d devices\n", usable);
	t0 = now();
	next_report = t0 + 5;
	while (now() - t0 < secs) {
		for (int i = 0; i < ndevs; i++)
			if (devs[i].regs)
				round_on(&devs[i]);
		if (now() >= next_report) {
			unsigned long r = 0;

			for (int i = 0; i < ndevs; i++)
				r += devs[i].rounds;
			printf("ringbreak: %.0f s, %lu rounds\n", now() - t0, r);
			next_report += 5;
		}
	}
	/* Leave every device reset, so none of them touches our pages (about
	 * to go back to the kernel) again. */
	for (int i = 0; i < ndevs; i++)
		if (devs[i].regs)
			wr(&devs[i], R_STATUS, 0);
	usleep(100000);
	for (int i = 0; i < ndevs; i++)
		if (devs[i].regs)
			printf("ringbreak: %s %lu rounds, needs_reset seen %lu (device-id %u)\n",
			       devs[i].name, devs[i].rounds, devs[i].needs_reset, devs[i].id);
	printf("ringbreak: done\n");
	return 0;
}
