/* avp_agent: the guest half of the AVP conformance suite (conformance/conform).
 *
 * Runs inside the reference guest (static, busybox userland), finds devices
 * the way any Linux program would (sysfs, /dev, /proc), exercises them and
 * prints one line per profile ID it can judge from inside:
 *
 *   AVP-RESULT {"id":"AVP-BLK-1","result":"PASS","evidence":"..."}
 *
 * plus AVP-INVENTORY / AVP-INFO / AVP-MARK lines that the host harness uses
 * for its own checks (cross-checking the host's platform description, the
 * kill-at-flush durability test, graceful shutdown...).  Nothing here knows
 * which hypervisor it runs on: a device counts only if the guest sees it.
 *
 * ABSENT means "not offered"; the host report turns ABSENT into FAIL for
 * MUST/SHOULD rows, since only MAY rows may be absent.
 *
 * Parameters come from the kernel command line (avp.conform.KEY=VALUE) so
 * the guest side needs no per-run files:
 *   role=main|a|b|d     what this VM does (see main() at the bottom)
 *   nonce=HEX           per-run token: proves the command line arrived, and
 *                       marks what the guest writes so stale data cannot pass
 *   hosttime=EPOCH      host wall clock at launch (RTC sanity)
 *   mac=XX:..           MAC the host configured for the NIC
 *   self=ADDR peer=ADDR IPv6 link-local address to take / to ping
 *   peercid=N           vsock CID of the peer VM (b connects to a: AVP-VSOCK-2)
 *   gpu=WxH             the display size the host configured (AVP-GPU-1)
 *   touch=X,Y           where the host will touch the touch screen (AVP-INPUT-1)
 *   i2c=ADDR,DENY       an I2C address the host allows (a chip answers there)
 *                       and one it does not (AVP-I2C-1)
 *   interactive=0       do not wait for the host (--quick): no input events,
 *                       no screenshot go-ahead
 *
 * The host's go-aheads arrive on the scratch disk (see wait_go()); the
 * guest's requests to the host are AVP-MARK lines.
 *
 * Disks are recognised by a signature the host writes at byte 0:
 *   AVPCONF-SCRATCH  read/write scratch disk (host pattern at 1 MiB)
 *   AVPCONF-RO       the read-only disk
 *   AVPCONF-DURABLE  the disk of the kill-after-flush test
 *   AVPCONF-PAIR-x   the private disk of pair VM x
 *
 * With no avp.conform.role on the command line (e.g. when the generic smoke
 * test runs every program in /tests/bin) it prints its usage and exits 0.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <net/if.h>
#include <linux/can.h>
#include <linux/can/raw.h>
#include <linux/fs.h>
#include <linux/gpio.h>
#include <linux/i2c-dev.h>
#include <linux/i2c.h>
#include <linux/input.h>
#include <linux/rtc.h>
#include <linux/vm_sockets.h>
#include <linux/watchdog.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Every snprintf below fills a fixed buffer with sysfs names or evidence
 * text; cutting an over-long one short is the intended behaviour. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif

/* VIRTIO 1.2 device IDs (section 5) and feature bits used below. */
enum {
	VID_NET = 1, VID_BLK = 2, VID_CONSOLE = 3, VID_RNG = 4, VID_GPU = 16,
	VID_INPUT = 18, VID_VSOCK = 19, VID_CRYPTO = 20, VID_IOMMU = 23,
	VID_SOUND = 25, VID_FS = 26, VID_RPMB = 28, VID_SCMI = 32, VID_I2C = 34,
	VID_CAN = 36, VID_GPIO = 41, VID_MEDIA = 48,
};
enum {
	F_INDIRECT_DESC = 28, F_EVENT_IDX = 29, F_VERSION_1 = 32, F_RING_PACKED = 34,
	BLK_F_RO = 5, BLK_F_FLUSH = 9, BLK_F_MQ = 12, BLK_F_DISCARD = 13,
	BLK_F_WRITE_ZEROES = 14,
	NET_F_CSUM = 0, NET_F_GUEST_CSUM = 1, NET_F_MAC = 5, NET_F_GUEST_TSO4 = 7,
	NET_F_GUEST_TSO6 = 8, NET_F_HOST_TSO4 = 11, NET_F_HOST_TSO6 = 12,
	NET_F_STATUS = 16,
	GPU_F_VIRGL = 0, GPU_F_EDID = 1,
};
/* Device status bits (VIRTIO 1.2, 2.1). */
enum { S_DRIVER_OK = 4, S_FEATURES_OK = 8, S_NEEDS_RESET = 64, S_FAILED = 128 };

#define MAXDEV 48
#define EVLEN 900
#define SECTOR 512
#define MiB (1024 * 1024)

struct vdev {
	char name[32];      /* virtioN */
	char syspath[PATH_MAX];
	char parent[128];   /* e.g. LNRO0005:00 or 0000:00:03.0 */
	char transport[8];  /* mmio, pci, other */
	char driver[48];    /* "" when unbound */
	char addr[40];      /* MMIO base from /proc/iomem, or the PCI address */
	char blk[32];       /* vdX when it is a disk */
	char net[32];       /* ethX when it is a NIC */
	unsigned int id;
	unsigned int status;
	uint64_t feat;      /* negotiated (driver) features, bits 0-63 */
	int irq;            /* Linux IRQ number */
	int gsi;            /* the platform's interrupt line (IO-APIC pin), -1 unknown */
	bool acpi, of;
	int tested;         /* 0 not exercised, 1 worked, -1 failed */
};

static struct vdev devs[MAXDEV];
static int ndevs;
static char cmdline[4096];
static char nonce[64] = "none";
static const char *role = "";
/* Where AVP-* lines go: hvc0 when the guest has it, else the serial
 * console. Every byte on the 16550 is a VM exit, which nested under TCG
 * costs milliseconds; virtio-console moves a whole line per notification. */
static int out_fd = STDOUT_FILENO;
static double t_start;

/* ---------------------------------------------------------------- output */

/* One write() per line: the serial console is shared with the kernel and
 * with other processes, so a line must not be assembled from pieces. */
static void emit(const char *line)
{
	size_t n = strlen(line);

	while (n > 0) {
		ssize_t w = write(out_fd, line, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		line += w;
		n -= (size_t)w;
	}
}

static void json_escape(char *out, size_t cap, const char *in)
{
	size_t o = 0;

	for (; *in && o + 7 < cap; in++) {
		unsigned char c = (unsigned char)*in;

		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20) {
			o += (size_t)snprintf(out + o, cap - o, "\\u%04x", c);
		} else {
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
}

static void result(const char *id, const char *res, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void result(const char *id, const char *res, const char *fmt, ...)
{
	char ev[EVLEN], esc[2 * EVLEN], line[3 * EVLEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ev, sizeof(ev), fmt, ap);
	va_end(ap);
	json_escape(esc, sizeof(esc), ev);
	snprintf(line, sizeof(line),
		 "AVP-RESULT {\"id\":\"%s\",\"result\":\"%s\",\"role\":\"%s\",\"evidence\":\"%s\"}\n",
		 id, res, role, esc);
	emit(line);
}

/* AVP-MARK lines are what the host waits for (e.g. "flushed"). */
static void mark(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void mark(const char *fmt, ...)
{
	char buf[512], line[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	snprintf(line, sizeof(line), "AVP-MARK %s %s\n", nonce, buf);
	emit(line);
}

static void info(const char *key, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void info(const char *key, const char *fmt, ...)
{
	char buf[700], esc[1400], line[1600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	json_escape(esc, sizeof(esc), buf);
	snprintf(line, sizeof(line), "AVP-INFO {\"role\":\"%s\",\"key\":\"%s\",\"value\":\"%s\"}\n",
		 role, key, esc);
	emit(line);
}

/* Evidence is built up piece by piece; appends are cut at the buffer end. */
struct ev {
	char s[EVLEN];
	size_t n;
};

static void ev_add(struct ev *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ev_add(struct ev *e, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (e->n >= sizeof(e->s) - 1)
		return;
	if (e->n > 0 && e->s[e->n - 1] != ' ')
		e->s[e->n++] = ';', e->s[e->n++] = ' ';
	va_start(ap, fmt);
	r = vsnprintf(e->s + e->n, sizeof(e->s) - e->n, fmt, ap);
	va_end(ap);
	if (r > 0)
		e->n += (size_t)r < sizeof(e->s) - e->n ? (size_t)r : sizeof(e->s) - e->n - 1;
}

/* --------------------------------------------------------------- helpers */

static bool read_text(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	buf[0] = '\0';
	if (fd < 0)
		return false;
	n = read(fd, buf, cap - 1);
	close(fd);
	if (n < 0)
		return false;
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return true;
}

static bool write_text(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	bool ok;

	if (fd < 0)
		return false;
	ok = write(fd, text, strlen(text)) == (ssize_t)strlen(text);
	close(fd);
	return ok;
}

static bool exists(const char *path)
{
	return access(path, F_OK) == 0;
}

static bool has_bit(uint64_t f, unsigned int b)
{
	return (f >> b) & 1;
}

static void msleep(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static double now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* avp.conform.KEY=VALUE from /proc/cmdline. */
static const char *param(const char *key)
{
	static char val[8][256];
	static int slot;
	char want[96];
	const char *p = cmdline;
	size_t wl;

	snprintf(want, sizeof(want), "avp.conform.%s=", key);
	wl = strlen(want);
	while (*p) {
		while (*p == ' ')
			p++;
		if (strncmp(p, want, wl) == 0) {
			char *v = val[slot++ % 8];
			size_t i = 0;

			p += wl;
			while (*p && *p != ' ' && i < sizeof(val[0]) - 1)
				v[i++] = *p++;
			v[i] = '\0';
			return v;
		}
		while (*p && *p != ' ')
			p++;
	}
	return NULL;
}

/* First directory entry under DIR (skipping dot files), or "". */
static void first_entry(const char *dir, char *out, size_t cap)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	out[0] = '\0';
	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(out, cap, "%s", de->d_name);
		break;
	}
	closedir(d);
}

/* Deterministic pattern from a seed (xorshift64): data the guest writes and
 * later compares, different in every run because the seed is the nonce. */
static void fill_pattern(uint8_t *buf, size_t n, uint64_t seed)
{
	uint64_t x = seed | 1;

	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		buf[i] = (uint8_t)x;
	}
}

static uint64_t nonce_seed(uint64_t salt)
{
	uint64_t h = 1469598103934665603ull ^ salt;

	for (const char *p = nonce; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ull;
	return h;
}

static void *aligned(size_t n)
{
	void *p = NULL;

	if (posix_memalign(&p, 4096, n))
		return NULL;
	return p;
}

static int run(const char *cmd)
{
	int rc = system(cmd);

	return rc == -1 ? -1 : WEXITSTATUS(rc);
}

/* ------------------------------------------------------------- discovery */

static void find_iomem(struct vdev *v)
{
	FILE *f = fopen("/proc/iomem", "r");
	char line[256];

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *colon = strstr(line, " : ");
		unsigned long long a, b;

		if (!colon)
			continue;
		colon[strcspn(colon, "\n")] = '\0';
		if (strcmp(colon + 3, v->parent) != 0)
			continue;
		if (sscanf(line, " %llx-%llx", &a, &b) == 2) {
			snprintf(v->addr, sizeof(v->addr), "0x%llx", a);
			break;
		}
	}
	fclose(f);
}

static void find_irq(struct vdev *v)
{
	FILE *f = fopen("/proc/interrupts", "r");
	char line[1024];
	size_t nl = strlen(v->name);

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *end = line + strcspn(line, "\n"), *tok;
		int irq;

		*end = '\0';
		tok = strrchr(line, ' ');
		tok = tok ? tok + 1 : line;
		/* virtio-mmio names the IRQ after the device ("virtio3");
		 * virtio-pci with MSI-X uses "virtio3-config", "virtio3-req.0". */
		if (strncmp(tok, v->name, nl) != 0 || (tok[nl] != '\0' && tok[nl] != '-'))
			continue;
		if (sscanf(line, " %d:", &irq) == 1) {
			char path[96], chip[64] = "", hw[32] = "";

			v->irq = irq;
			/* Linux numbers IRQs its own way; the IO-APIC pin (hwirq)
			 * is what the firmware described, i.e. the GSI. On a GICv3
			 * the hwirq of an SPI is its INTID, 32 + the SPI number
			 * the device tree's "interrupts" cell names (GICv3
			 * architecture spec, INTID ranges; the binding
			 * arm,gic-v3.yaml). */
			snprintf(path, sizeof(path), "/sys/kernel/irq/%d/chip_name", irq);
			read_text(path, chip, sizeof(chip));
			snprintf(path, sizeof(path), "/sys/kernel/irq/%d/hwirq", irq);
			if (strstr(chip, "IO-APIC") && read_text(path, hw, sizeof(hw)))
				v->gsi = atoi(hw);
			else if (strstr(chip, "GICv3") && read_text(path, hw, sizeof(hw)) && atoi(hw) >= 32)
				v->gsi = atoi(hw) - 32;
			break;
		}
	}
	fclose(f);
}

static int devcmp(const void *a, const void *b)
{
	const struct vdev *x = a, *y = b;

	return atoi(x->name + 6) - atoi(y->name + 6);
}

static void scan_one(struct vdev *v)
{
	char path[PATH_MAX + 64], buf[256], real[PATH_MAX];

	v->irq = -1;
	v->gsi = -1;
	v->feat = 0;
	v->driver[0] = v->blk[0] = v->net[0] = '\0';
	snprintf(path, sizeof(path), "/sys/bus/virtio/devices/%s", v->name);
	if (!realpath(path, real))
		snprintf(real, sizeof(real), "%s", path);
	snprintf(v->syspath, sizeof(v->syspath), "%s", real);

	snprintf(path, sizeof(path), "%s/device", real);
	read_text(path, buf, sizeof(buf));
	v->id = (unsigned int)strtoul(buf, NULL, 0);
	snprintf(path, sizeof(path), "%s/status", real);
	if (read_text(path, buf, sizeof(buf)))
		v->status = (unsigned int)strtoul(buf, NULL, 0);
	/* Linux prints the negotiated features as a string of '0'/'1', one
	 * character per bit, bit 0 first. */
	snprintf(path, sizeof(path), "%s/features", real);
	if (read_text(path, buf, sizeof(buf)))
		for (unsigned int i = 0; i < 64 && buf[i]; i++)
			if (buf[i] == '1')
				v->feat |= 1ull << i;
	snprintf(path, sizeof(path), "%s/driver", real);
	{
		char link[PATH_MAX];
		ssize_t n = readlink(path, link, sizeof(link) - 1);

		if (n > 0) {
			link[n] = '\0';
			snprintf(v->driver, sizeof(v->driver), "%s", strrchr(link, '/') + 1);
		}
	}
	snprintf(path, sizeof(path), "%s/block", real);
	first_entry(path, v->blk, sizeof(v->blk));
	snprintf(path, sizeof(path), "%s/net", real);
	first_entry(path, v->net, sizeof(v->net));

	/* The parent is what the firmware described: a platform device from
	 * ACPI/DT (virtio-mmio) or a PCI function. */
	{
		char par[PATH_MAX];
		char *slash;

		snprintf(par, sizeof(par), "%s", real);
		slash = strrchr(par, '/');
		if (slash)
			*slash = '\0';
		slash = strrchr(par, '/');
		snprintf(v->parent, sizeof(v->parent), "%s", slash ? slash + 1 : par);
		snprintf(path, sizeof(path), "%s/firmware_node", par);
		v->acpi = exists(path);
		snprintf(path, sizeof(path), "%s/of_node", par);
		v->of = exists(path);
		snprintf(path, sizeof(path), "%s/subsystem", par);
		{
			char link[PATH_MAX];
			ssize_t n = readlink(path, link, sizeof(link) - 1);

			link[n > 0 ? n : 0] = '\0';
			if (strstr(link, "/pci"))
				snprintf(v->transport, sizeof(v->transport), "pci");
			else if (strstr(link, "/platform"))
				snprintf(v->transport, sizeof(v->transport), "mmio");
			else
				snprintf(v->transport, sizeof(v->transport), "other");
		}
	}
	if (strcmp(v->transport, "pci") == 0)
		snprintf(v->addr, sizeof(v->addr), "%s", v->parent);
	else
		find_iomem(v);
	/* A device-tree platform device's /proc/iomem line carries the node's
	 * name (virtio@a000000), not the device's; Linux names the device
	 * "<base>.<node name>" with the base translated from its reg
	 * (of_device_make_bus_id), which is the MMIO base. */
	if (!v->addr[0] && v->of) {
		unsigned long long a;
		char dot;

		if (sscanf(v->parent, "%llx%c", &a, &dot) == 2 && dot == '.')
			snprintf(v->addr, sizeof(v->addr), "0x%llx", a);
	}
	find_irq(v);
}

static void scan(void)
{
	DIR *d = opendir("/sys/bus/virtio/devices");
	struct dirent *de;

	ndevs = 0;
	if (!d)
		return;
	while ((de = readdir(d)) && ndevs < MAXDEV) {
		if (strncmp(de->d_name, "virtio", 6) != 0)
			continue;
		memset(&devs[ndevs], 0, sizeof(devs[0]));
		snprintf(devs[ndevs].name, sizeof(devs[0].name), "%s", de->d_name);
		ndevs++;
	}
	closedir(d);
	qsort(devs, (size_t)ndevs, sizeof(devs[0]), devcmp);
	for (int i = 0; i < ndevs; i++)
		scan_one(&devs[i]);
}

static void print_inventory(void)
{
	for (int i = 0; i < ndevs; i++) {
		struct vdev *v = &devs[i];
		char line[1024];

		snprintf(line, sizeof(line),
			 "AVP-INVENTORY {\"role\":\"%s\",\"dev\":\"%s\",\"virtio_id\":%u,\"driver\":\"%s\","
			 "\"transport\":\"%s\",\"parent\":\"%s\",\"acpi\":%s,\"of\":%s,\"address\":\"%s\","
			 "\"interrupt\":%d,\"linux_irq\":%d,\"status\":%u,\"features\":\"0x%" PRIx64 "\",\"block\":\"%s\",\"net\":\"%s\"}\n",
			 role, v->name, v->id, v->driver, v->transport, v->parent, v->acpi ? "true" : "false",
			 v->of ? "true" : "false", v->addr, v->gsi, v->irq, v->status, v->feat, v->blk, v->net);
		emit(line);
	}
}

static struct vdev *find_dev(unsigned int id, int nth)
{
	for (int i = 0; i < ndevs; i++)
		if (devs[i].id == id && nth-- == 0)
			return &devs[i];
	return NULL;
}

static int count_dev(unsigned int id)
{
	int n = 0;

	for (int i = 0; i < ndevs; i++)
		n += devs[i].id == id;
	return n;
}

/* Disk whose first bytes are SIG, or NULL. */
static struct vdev *disk_by_sig(const char *sig)
{
	for (int i = 0; i < ndevs; i++) {
		char path[64], buf[32] = { 0 };
		int fd;

		if (devs[i].id != VID_BLK || !devs[i].blk[0])
			continue;
		snprintf(path, sizeof(path), "/dev/%s", devs[i].blk);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (pread(fd, buf, sizeof(buf) - 1, 0) > 0 && strncmp(buf, sig, strlen(sig)) == 0) {
			close(fd);
			return &devs[i];
		}
		close(fd);
	}
	return NULL;
}

/* ---------------------------------------------------- boot and discovery */

#ifdef __aarch64__
/* AVP-BOOT-3 on arm64: the device tree's /chosen/stdout-path names a PL011
 * (compatible "arm,pl011", Documentation/devicetree/bindings/serial/pl011.yaml),
 * that is the UART the kernel console ttyAMA0 runs on. The path may carry
 * ":options" (the chosen-node binding); /proc/device-tree mirrors the tree. */
static bool check_pl011_console(struct ev *e)
{
	char sp[256] = "", node[512], compat[128] = "", cons[512] = "", base[64] = "";
	bool ok = true;
	size_t i;

	if (!read_text("/proc/device-tree/chosen/stdout-path", sp, sizeof(sp)) || sp[0] != '/') {
		/* An alias is also allowed there. */
		char alias[256];

		snprintf(alias, sizeof(alias), "/proc/device-tree/aliases/%s", sp);
		if (!sp[0] || !read_text(alias, sp, sizeof(sp))) {
			ev_add(e, "no /chosen/stdout-path in the device tree");
			return false;
		}
	}
	sp[strcspn(sp, ":")] = '\0';
	snprintf(node, sizeof(node), "/proc/device-tree%s/compatible", sp);
	/* compatible is a NUL-separated list: look at every entry. */
	{
		int fd = open(node, O_RDONLY | O_CLOEXEC);
		ssize_t n = fd >= 0 ? read(fd, compat, sizeof(compat) - 1) : -1;

		if (fd >= 0)
			close(fd);
		for (i = 0; n > 0 && i < (size_t)n; i++)
			if (compat[i] == '\0')
				compat[i] = ' ';
		compat[n > 0 ? n : 0] = '\0';
	}
	if (!strstr(compat, "arm,pl011")) {
		ev_add(e, "stdout-path %s is '%s', not an arm,pl011", sp, compat);
		ok = false;
	} else {
		ev_add(e, "stdout-path %s is a PL011", sp);
	}
	/* ttyAMA0 is that UART: the node's unit address is its MMIO base. */
	read_text("/proc/consoles", cons, sizeof(cons));
	if (!strstr(cons, "ttyAMA0")) {
		ev_add(e, "ttyAMA0 is not a kernel console");
		ok = false;
	} else {
		const char *at = strrchr(sp, '@');

		read_text("/sys/class/tty/ttyAMA0/iomem_base", base, sizeof(base));
		if (at && strtoull(at + 1, NULL, 16) == strtoull(base, NULL, 0)) {
			ev_add(e, "the kernel console ttyAMA0 is it (MMIO %s)", base);
		} else {
			ev_add(e, "ttyAMA0 is at MMIO '%s', not the stdout-path node", base);
			ok = false;
		}
	}
	return ok;
}
#endif

static void check_boot(void)
{
	struct ev e = { 0 };
	char rel[128] = "", buf[256];
	bool nonce_ok = param("nonce") != NULL;
	bool bad = false;

	read_text("/proc/sys/kernel/osrelease", rel, sizeof(rel));
	/* We run from the initramfs: / is the rootfs the kernel unpacked. */
	{
		FILE *f = fopen("/proc/mounts", "r");
		char line[256];

		while (f && fgets(line, sizeof(line), f))
			if (strncmp(line, "rootfs / ", 9) == 0 || strstr(line, " / rootfs ") ||
			    strstr(line, " / tmpfs ") || strstr(line, " / ramfs "))
				snprintf(buf, sizeof(buf), "%s", "initramfs root");
		if (f)
			fclose(f);
	}
	ev_add(&e, "kernel %s booted with an initramfs (%s) and the host's command line (nonce %s)", rel,
	       buf[0] ? buf : "root fs type unknown", nonce_ok ? "present" : "MISSING");
	result("AVP-BOOT-1", nonce_ok && buf[0] ? "PASS" : "FAIL", "%s", e.s);

	/* AVP-BOOT-2: each virtio device hangs off a firmware-described parent
	 * (ACPI/DT platform device, or a PCI function found by enumeration),
	 * and the command line carries no device addresses. */
	e.n = 0;
	e.s[0] = '\0';
	if (strstr(cmdline, "virtio_mmio.device=")) {
		ev_add(&e, "command line carries virtio_mmio.device=");
		bad = true;
	}
	if (ndevs == 0) {
		ev_add(&e, "no virtio devices discovered");
		bad = true;
	}
	for (int i = 0; i < ndevs; i++) {
		struct vdev *v = &devs[i];
		const char *how = strcmp(v->transport, "pci") == 0 ? "PCI" :
				  v->acpi ? "ACPI" : v->of ? "DT" : NULL;

		if (!how) {
			ev_add(&e, "%s (id %u) has no firmware node", v->name, v->id);
			bad = true;
		}
	}
	{
		int acpi = 0, pci = 0, of = 0;

		for (int i = 0; i < ndevs; i++) {
			pci += strcmp(devs[i].transport, "pci") == 0;
			acpi += devs[i].acpi && strcmp(devs[i].transport, "pci") != 0;
			of += devs[i].of;
		}
		ev_add(&e, "%d virtio devices: %d via ACPI, %d via PCI, %d via DT; no addresses on the command line",
		       ndevs, acpi, pci, of);
	}
	result("AVP-BOOT-2", bad ? "FAIL" : "PASS", "%s", e.s);

	/* AVP-BOOT-3: 16550 at 0x3f8 (arm64: the PL011 that stdout-path
	 * names) as the kernel console, and a sane RTC. */
	e.n = 0;
	e.s[0] = '\0';
	bad = false;
#ifdef __aarch64__
	bad = !check_pl011_console(&e);
#else
	{
		char port[32] = "", type[32] = "", cons[512] = "";

		read_text("/sys/class/tty/ttyS0/port", port, sizeof(port));
		read_text("/sys/class/tty/ttyS0/type", type, sizeof(type));
		read_text("/proc/consoles", cons, sizeof(cons));
		/* type 4 is PORT_16550A in the kernel's serial_core.h */
		if (strtoul(port, NULL, 0) != 0x3f8 || strtoul(type, NULL, 0) != 4) {
			ev_add(&e, "ttyS0 port '%s' type '%s' (want 0x3f8, 16550A)", port, type);
			bad = true;
		} else {
			ev_add(&e, "ttyS0 is a 16550A at 0x3f8");
		}
		if (!strstr(cons, "ttyS0")) {
			ev_add(&e, "ttyS0 is not a kernel console");
			bad = true;
		}
	}
#endif
	{
		int fd = open("/dev/rtc0", O_RDONLY | O_CLOEXEC);
		struct rtc_time rt;
		const char *ht = param("hosttime");
		char name[64] = "";

		read_text("/sys/class/rtc/rtc0/name", name, sizeof(name));
		if (fd < 0) {
			/* No RTC: a paravirtual clock also counts (kvm-clock gives
			 * the guest the host's wall clock at boot). */
			char cs[64] = "";
			long long t = (long long)time(NULL), h = ht ? atoll(ht) : 0;

			read_text("/sys/devices/system/clocksource/clocksource0/current_clocksource", cs, sizeof(cs));
			if (strcmp(cs, "kvm-clock") == 0 && ht && llabs(t - h) <= 900) {
				ev_add(&e, "no RTC; wall clock from paravirtual kvm-clock reads host time %+llds", t - h);
			} else {
				ev_add(&e, "no /dev/rtc0 (%s); clocksource '%s', wall clock %lld vs host %lld", strerror(errno),
				       cs, t, h);
				bad = true;
			}
		} else if (ioctl(fd, RTC_RD_TIME, &rt) < 0) {
			ev_add(&e, "RTC_RD_TIME failed: %s", strerror(errno));
			bad = true;
		} else {
			struct tm tm = { .tm_sec = rt.tm_sec, .tm_min = rt.tm_min, .tm_hour = rt.tm_hour,
					 .tm_mday = rt.tm_mday, .tm_mon = rt.tm_mon, .tm_year = rt.tm_year };
			long long t = (long long)timegm(&tm);
			long long h = ht ? atoll(ht) : 0;

			/* The guest boots within minutes of the host's launch
			 * time, even nested under TCG. */
			if (!ht || llabs(t - h) > 900) {
				ev_add(&e, "RTC (%s) reads %lld, host launched at %lld", name, t, h);
				bad = true;
			} else {
				ev_add(&e, "RTC %s reads host time %+llds", name, t - h);
			}
		}
		if (fd >= 0)
			close(fd);
	}
	result("AVP-BOOT-3", bad ? "FAIL" : "PASS", "%s", e.s);
}


static void check_transport_static(void)
{
	struct ev e = { 0 };
	int modern = 0, bound = 0;
	bool bad = false;

	for (int i = 0; i < ndevs; i++) {
		struct vdev *v = &devs[i];

		/* Features are only known once a driver negotiated them. */
		if (!v->driver[0])
			continue;
		bound++;
		if (has_bit(v->feat, F_VERSION_1))
			modern++;
		else {
			ev_add(&e, "%s (id %u) runs without VIRTIO_F_VERSION_1 (legacy)", v->name, v->id);
			bad = true;
		}
	}
	if (bound == 0) {
		ev_add(&e, "no virtio device with a driver");
		bad = true;
	}
	ev_add(&e, "VERSION_1 negotiated on %d/%d bound devices; Linux drives a version-2 virtio-mmio device only with VERSION_1 (the Version register itself is not readable from the guest: IO_STRICT_DEVMEM)",
	       modern, bound);
	result("AVP-TRANS-1", bad ? "FAIL" : "PASS", "%s", e.s);

	/* AVP-TRANS-3: a virtio-pci device with MSI-X. A function gets its
	 * vectors (msi_irqs) only when a driver enables them, so functions
	 * whose driver is not loaded yet (gpio, i2c: their modules come later)
	 * are counted apart, as TRANS-1 does for features. */
	{
		int pci = 0, bound = 0, msix = 0;

		for (int i = 0; i < ndevs; i++) {
			char path[PATH_MAX + 64];

			if (strcmp(devs[i].transport, "pci") != 0)
				continue;
			pci++;
			if (!devs[i].driver[0])
				continue;
			bound++;
			snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/msi_irqs", devs[i].parent);
			msix += exists(path);
		}
		if (bound && msix == bound)
			result("AVP-TRANS-3", "PASS",
			       "%d virtio-pci devices; all %d with a driver use MSI/MSI-X vectors (%d had no driver yet)",
			       pci, bound, pci - bound);
		else if (bound)
			result("AVP-TRANS-3", "FAIL", "%d virtio-pci devices, %d with a driver, %d of those with MSI-X",
			       pci, bound, msix);
		else if (pci)
			result("AVP-TRANS-3", "FAIL", "%d virtio-pci devices, none with a driver", pci);
		else
			result("AVP-TRANS-3", "ABSENT", "no virtio-pci device (all %d are %s)", ndevs,
			       ndevs ? devs[0].transport : "none");
	}
}

/* ----------------------------------------------------------------- block */

static int blk_open(const struct vdev *v, int flags)
{
	char path[64];

	snprintf(path, sizeof(path), "/dev/%s", v->blk);
	return open(path, flags | O_CLOEXEC);
}

static bool blk_size_attr(const struct vdev *v, const char *attr, unsigned long long *out)
{
	char path[128], buf[64];

	snprintf(path, sizeof(path), "/sys/block/%s/%s", v->blk, attr);
	if (!read_text(path, buf, sizeof(buf)))
		return false;
	*out = strtoull(buf, NULL, 0);
	return true;
}

/* Write LEN bytes of pattern SEED at OFF with O_DIRECT, fsync, read back
 * with O_DIRECT (no page cache on either side) and compare. */
static bool blk_rw(const struct vdev *v, off_t off, size_t len, uint64_t seed, struct ev *e)
{
	uint8_t *w = aligned(len), *r = aligned(len);
	int fd = blk_open(v, O_RDWR | O_DIRECT);
	bool ok = false;

	if (!w || !r || fd < 0) {
		ev_add(e, "open %s O_DIRECT: %s", v->blk, strerror(errno));
		goto out;
	}
	fill_pattern(w, len, seed);
	if (pwrite(fd, w, len, off) != (ssize_t)len) {
		ev_add(e, "write %zu bytes at %lld: %s", len, (long long)off, strerror(errno));
		goto out;
	}
	if (fsync(fd) < 0) {
		ev_add(e, "fsync: %s", strerror(errno));
		goto out;
	}
	memset(r, 0, len);
	if (pread(fd, r, len, off) != (ssize_t)len) {
		ev_add(e, "read back at %lld: %s", (long long)off, strerror(errno));
		goto out;
	}
	if (memcmp(w, r, len) != 0) {
		ev_add(e, "data read back at %lld differs from what was written", (long long)off);
		goto out;
	}
	ok = true;
out:
	if (fd >= 0)
		close(fd);
	free(w);
	free(r);
	return ok;
}

/* The host writes byte i = (i * 31 + 7) & 0xff for 64 KiB at 1 MiB. */
static bool blk_host_pattern(const struct vdev *v, struct ev *e)
{
	size_t len = 64 * 1024;
	uint8_t *r = aligned(len);
	int fd = blk_open(v, O_RDONLY | O_DIRECT);
	bool ok = false;

	if (r && fd >= 0 && pread(fd, r, len, MiB) == (ssize_t)len) {
		ok = true;
		for (size_t i = 0; i < len && ok; i++)
			ok = r[i] == (uint8_t)(i * 31 + 7);
		if (!ok)
			ev_add(e, "the host's pattern at 1 MiB reads back wrong");
	} else {
		ev_add(e, "cannot read the host's pattern: %s", strerror(errno));
	}
	if (fd >= 0)
		close(fd);
	free(r);
	return ok;
}

static bool all_zero(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

/* Fill [off, off+len) with pattern, run IOCTL on it, read it back. Returns
 * 1 all zeros, 0 data still there/other, -1 the ioctl failed. */
static int blk_zeroing_op(const struct vdev *v, unsigned long req, off_t off, size_t len, struct ev *e,
			  const char *what)
{
	uint64_t range[2] = { (uint64_t)off, len };
	uint8_t *r = aligned(len);
	int fd, res = 0;

	if (!r || !blk_rw(v, off, len, nonce_seed(off), e)) {
		free(r);
		return -1;
	}
	fd = blk_open(v, O_RDWR | O_DIRECT);
	if (fd < 0 || ioctl(fd, req, range) < 0) {
		ev_add(e, "%s failed: %s", what, strerror(errno));
		res = -1;
	} else if (pread(fd, r, len, off) != (ssize_t)len) {
		ev_add(e, "read after %s: %s", what, strerror(errno));
		res = -1;
	} else {
		res = all_zero(r, len) ? 1 : 0;
	}
	if (fd >= 0)
		close(fd);
	free(r);
	return res;
}

static struct vdev *scratch;
static bool blk1_ok;

static void check_blk(void)
{
	struct vdev *ro = disk_by_sig("AVPCONF-RO");
	struct ev e = { 0 };
	int nblk = count_dev(VID_BLK);

	scratch = disk_by_sig("AVPCONF-SCRATCH");
	info("disks", "%d virtio-blk: scratch=%s ro=%s", nblk, scratch ? scratch->blk : "-", ro ? ro->blk : "-");

	/* AVP-BLK-1 */
	if (!scratch) {
		result("AVP-BLK-1", nblk ? "FAIL" : "ABSENT", "%s",
		       nblk ? "no virtio-blk disk carries the host's scratch signature" : "no virtio-blk device (ID 2)");
	} else {
		bool ok = strcmp(scratch->driver, "virtio_blk") == 0;

		ev_add(&e, "/dev/%s (%s, driver %s)", scratch->blk, scratch->name, scratch->driver);
		ok = blk_host_pattern(scratch, &e) && ok;
		/* 1 MiB in one request: many segments, so indirect descriptors
		 * when negotiated; then single sectors at odd places. */
		ok = blk_rw(scratch, 2 * MiB, MiB, nonce_seed(1), &e) && ok;
		ok = blk_rw(scratch, 3 * MiB + 7 * SECTOR, SECTOR, nonce_seed(2), &e) && ok;
		ok = blk_rw(scratch, 5 * MiB - 4096, 8192, nonce_seed(3), &e) && ok;
		/* A token for the host to find in the image after power-off. */
		{
			char *tok = aligned(4096);
			int fd = blk_open(scratch, O_RDWR | O_DIRECT);

			if (tok && fd >= 0) {
				memset(tok, 0, 4096);
				snprintf(tok, 4096, "AVPCONF-GUEST-WROTE-%s", nonce);
				if (pwrite(fd, tok, 4096, 4 * MiB) != 4096 || fsync(fd) < 0) {
					ev_add(&e, "token write failed: %s", strerror(errno));
					ok = false;
				}
			}
			if (fd >= 0)
				close(fd);
			free(tok);
		}
		if (ok)
			ev_add(&e, "host data read correctly; 1 MiB, 512 B and 8 KiB O_DIRECT writes + fsync read back");
		blk1_ok = ok;
		scratch->tested = ok ? 1 : -1;
		result("AVP-BLK-1", ok ? "PASS" : "FAIL", "%s", e.s);
	}

	/* AVP-BLK-2 (guest half): FLUSH negotiated, and fsync() on the disk
	 * (which Linux turns into VIRTIO_BLK_T_FLUSH when FLUSH is on) worked.
	 * The host half kills the hypervisor after a flush (role b). */
	e.n = 0;
	e.s[0] = '\0';
	if (!scratch) {
		result("AVP-BLK-2", nblk ? "FAIL" : "ABSENT", "no scratch disk to test");
	} else {
		char wc[32] = "";
		char path[96];
		bool ok = has_bit(scratch->feat, BLK_F_FLUSH);

		snprintf(path, sizeof(path), "/sys/block/%s/queue/write_cache", scratch->blk);
		read_text(path, wc, sizeof(wc));
		ev_add(&e, "VIRTIO_BLK_F_FLUSH %s; guest cache mode '%s'; fsync after writes %s",
		       ok ? "negotiated" : "NOT negotiated", wc, blk1_ok ? "succeeded" : "failed");
		result("AVP-BLK-2", ok && blk1_ok ? "PASS" : "FAIL", "%s", e.s);
	}

	/* AVP-BLK-3 */
	e.n = 0;
	e.s[0] = '\0';
	if (!ro) {
		result("AVP-BLK-3", "FAIL", "no disk carries the host's read-only signature (%d virtio-blk disks)", nblk);
	} else {
		char path[96], rof[16] = "";
		bool ok = has_bit(ro->feat, BLK_F_RO);
		int fd;

		snprintf(path, sizeof(path), "/sys/block/%s/ro", ro->blk);
		read_text(path, rof, sizeof(rof));
		ev_add(&e, "/dev/%s: VIRTIO_BLK_F_RO %s, sysfs ro=%s", ro->blk, ok ? "negotiated" : "NOT negotiated",
		       rof);
		ok = ok && strcmp(rof, "1") == 0;
		fd = blk_open(ro, O_RDWR | O_DIRECT);
		if (fd < 0) {
			ev_add(&e, "open for writing refused (%s)", strerror(errno));
			ok = ok && (errno == EROFS || errno == EACCES || errno == EPERM);
		} else {
			uint8_t *b = aligned(4096);

			memset(b, 0x5a, 4096);
			if (pwrite(fd, b, 4096, 4096) == 4096 && fsync(fd) == 0) {
				ev_add(&e, "a write was ACCEPTED");
				ok = false;
			} else {
				ev_add(&e, "write refused (%s)", strerror(errno));
				ok = ok && (errno == EROFS || errno == EPERM || errno == EIO || errno == EACCES);
			}
			free(b);
			close(fd);
		}
		ro->tested = 1;
		result("AVP-BLK-3", ok ? "PASS" : "FAIL", "%s", e.s);
	}

	/* AVP-BLK-4: DISCARD and WRITE_ZEROES negotiated and used. */
	e.n = 0;
	e.s[0] = '\0';
	if (!scratch) {
		result("AVP-BLK-4", "ABSENT", "no scratch disk");
	} else {
		bool d = has_bit(scratch->feat, BLK_F_DISCARD), z = has_bit(scratch->feat, BLK_F_WRITE_ZEROES);
		unsigned long long dmax = 0, zmax = 0;
		bool ok = d && z;

		blk_size_attr(scratch, "queue/discard_max_bytes", &dmax);
		blk_size_attr(scratch, "queue/write_zeroes_max_bytes", &zmax);
		ev_add(&e, "DISCARD %s (discard_max_bytes %llu), WRITE_ZEROES %s (write_zeroes_max_bytes %llu)",
		       d ? "negotiated" : "absent", dmax, z ? "negotiated" : "absent", zmax);
		if (d && dmax) {
			int r = blk_zeroing_op(scratch, BLKDISCARD, 8 * MiB, MiB, &e, "BLKDISCARD");

			/* VIRTIO lets discarded blocks read back old data, so
			 * only an error fails; what was read is reported. */
			if (r < 0)
				ok = false;
			else
				ev_add(&e, "BLKDISCARD of 1 MiB ok, reads back %s", r ? "zeros" : "old data (allowed)");
		} else {
			ok = false;
		}
		if (z && zmax) {
			int r = blk_zeroing_op(scratch, BLKZEROOUT, 10 * MiB, MiB, &e, "BLKZEROOUT");

			if (r != 1)
				ok = false;
			ev_add(&e, "BLKZEROOUT (device WRITE_ZEROES) of 1 MiB %s",
			       r == 1 ? "reads back zeros" : r == 0 ? "left data behind" : "failed");
		} else {
			ok = false;
		}
		result("AVP-BLK-4", ok ? "PASS" : (d || z) ? "FAIL" : "ABSENT", "%s", e.s);
	}

	/* AVP-BLK-5 (MAY): multiqueue. */
	if (scratch && has_bit(scratch->feat, BLK_F_MQ)) {
		char path[96];
		DIR *d;
		int nq = 0;
		struct dirent *de;

		snprintf(path, sizeof(path), "/sys/block/%s/mq", scratch->blk);
		d = opendir(path);
		while (d && (de = readdir(d)))
			nq += de->d_name[0] != '.';
		if (d)
			closedir(d);
		result("AVP-BLK-5", blk1_ok ? "PASS" : "FAIL", "VIRTIO_BLK_F_MQ negotiated, %d hardware queues; I/O %s",
		       nq, blk1_ok ? "worked" : "failed");
	} else {
		result("AVP-BLK-5", "ABSENT", "VIRTIO_BLK_F_MQ not negotiated%s", scratch ? "" : " (no scratch disk)");
	}
}

/* ------------------------------------------------------------------- net */

/* Bring up the NIC with a link-local address; returns the carrier. */
static bool net_up(const struct vdev *v, const char *self, struct ev *e)
{
	char cmd[256], path[128], car[8] = "";

	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/accept_dad", v->net);
	write_text(path, "0");
	snprintf(cmd, sizeof(cmd), "ip link set %s up && ip -6 addr add %s/64 dev %s", v->net, self, v->net);
	if (run(cmd) != 0)
		ev_add(e, "'%s' failed", cmd);
	snprintf(path, sizeof(path), "/sys/class/net/%s/carrier", v->net);
	for (int i = 0; i < 30; i++) {
		read_text(path, car, sizeof(car));
		if (strcmp(car, "1") == 0)
			return true;
		msleep(100);
	}
	return false;
}

/* busybox ping; retries until DEADLINE seconds (the peer may still boot). */
static bool ping6(const char *addr, const char *ifname, double deadline_s, char *why, size_t cap)
{
	char cmd[256];
	double end = now_mono() + deadline_s;

	snprintf(cmd, sizeof(cmd), "ping -6 -c 2 -W 3 %s%%%s >/tmp/ping.log 2>&1", addr, ifname);
	do {
		if (run(cmd) == 0)
			return true;
		msleep(500);
	} while (now_mono() < end);
	read_text("/tmp/ping.log", why, cap);
	for (char *p = why; *p; p++)
		if (*p == '\n')
			*p = ' ';
	return false;
}

/* AVP-NET-3: offloads that work. A bulk TCP transfer both ways with the
 * host's net_bulk server (conformance/inside.sh, port 5201), every byte
 * checked, and GSO seen at work: frames above Ethernet's 1514 bytes on
 * average through ifname both ways (one GSO frame counts as one packet). */
static bool net_bulk(const char *ifname, const char *peer, struct ev *e)
{
	char cmd[256], out[1024];
	unsigned int mib = 0;
	long long g2h = 0, h2g = 0;
	unsigned long long tx = 0, rx = 0;
	const char *line;
	int rc;

	snprintf(cmd, sizeof(cmd), "/tests/bin/net_bulk connect %s%%%s 5201 8 20 >/tmp/bulk.log 2>&1", peer,
		 ifname);
	rc = run(cmd);
	read_text("/tmp/bulk.log", out, sizeof(out));
	line = strstr(out, "NET_BULK ");
	if (rc != 0 || !line ||
	    sscanf(line, "NET_BULK mib=%u g2h_ms=%lld h2g_ms=%lld tx_avg=%llu rx_avg=%llu", &mib, &g2h, &h2g, &tx,
		   &rx) != 5) {
		for (char *p = out; *p; p++)
			if (*p == '\n')
				*p = ' ';
		ev_add(e, "TCP transfer with %s failed (exit %d): %.300s", peer, rc, out);
		return false;
	}
	ev_add(e, "TCP %u MiB each way with %s, every byte checked (%lld ms out, %lld ms in); %s averaged %llu "
		  "bytes/frame out, %llu in (GSO: above 1514 %s)", mib, peer, g2h, h2g, ifname, tx, rx,
	       tx > 1514 && rx > 1514 ? "both ways" : "NOT both ways");
	return tx > 1514 && rx > 1514;
}

static void check_net(void)
{
	struct vdev *v = find_dev(VID_NET, 0);
	struct ev e = { 0 };
	const char *mac = param("mac"), *self = param("self"), *peer = param("peer");
	bool ok = true;

	if (!v) {
		result("AVP-NET-1", "ABSENT", "no virtio-net device (ID 1)");
		result("AVP-NET-3", "ABSENT", "no virtio-net device (ID 1)");
		return;
	}
	if (!v->net[0]) {
		result("AVP-NET-1", "FAIL", "%s (driver '%s') has no network interface", v->name, v->driver);
		result("AVP-NET-3", "FAIL", "no network interface");
		v->tested = -1;
		return;
	}
	{
		char path[128], addr[32] = "";

		snprintf(path, sizeof(path), "/sys/class/net/%s/address", v->net);
		read_text(path, addr, sizeof(addr));
		ev_add(&e, "%s on %s: MAC %s (host set %s)", v->net, v->name, addr, mac ? mac : "?");
		if (!mac || strcasecmp(addr, mac) != 0)
			ok = false;
	}
	if (!has_bit(v->feat, NET_F_MAC) || !has_bit(v->feat, NET_F_STATUS)) {
		ev_add(&e, "VIRTIO_NET_F_MAC %s, VIRTIO_NET_F_STATUS %s", has_bit(v->feat, NET_F_MAC) ? "on" : "OFF",
		       has_bit(v->feat, NET_F_STATUS) ? "on" : "OFF");
		ok = false;
	} else {
		ev_add(&e, "MAC and STATUS negotiated");
	}
	if (!net_up(v, self ? self : "fe80::2", &e)) {
		ev_add(&e, "no carrier");
		ok = false;
	} else {
		ev_add(&e, "carrier up");
	}
	{
		char why[256] = "";

		if (ping6(peer ? peer : "fe80::1", v->net, 20, why, sizeof(why))) {
			ev_add(&e, "ping %s (host end of the tap) answered", peer ? peer : "fe80::1");
		} else {
			ev_add(&e, "no ping answer from %s: %s", peer ? peer : "fe80::1", why);
			ok = false;
		}
	}
	v->tested = ok ? 1 : -1;
	result("AVP-NET-1", ok ? "PASS" : "FAIL", "%s", e.s);

	{
		static const struct { unsigned int bit; const char *name; } offl[] = {
			{ NET_F_CSUM, "CSUM" }, { NET_F_GUEST_CSUM, "GUEST_CSUM" },
			{ NET_F_HOST_TSO4, "HOST_TSO4" }, { NET_F_HOST_TSO6, "HOST_TSO6" },
			{ NET_F_GUEST_TSO4, "GUEST_TSO4" }, { NET_F_GUEST_TSO6, "GUEST_TSO6" },
		};
		struct ev o = { 0 };
		int have = 0;

		for (size_t i = 0; i < sizeof(offl) / sizeof(offl[0]); i++) {
			bool h = has_bit(v->feat, offl[i].bit);

			have += h;
			ev_add(&o, "%s %s", offl[i].name, h ? "on" : "off");
		}
		if (have < 6 || !ok) {
			result("AVP-NET-3", have ? "FAIL" : "ABSENT", "%d/6 offloads negotiated: %s%s", have, o.s,
			       ok ? "" : "; the link does not work (AVP-NET-1)");
			return;
		}
		result("AVP-NET-3", net_bulk(v->net, peer ? peer : "fe80::1", &o) ? "PASS" : "FAIL",
		       "6/6 offloads negotiated: %s", o.s);
	}
}

/* ------------------------------------------------------- rng and console */

static bool rng_read(unsigned char *buf, size_t n)
{
	int fd = open("/dev/hwrng", O_RDONLY | O_CLOEXEC);
	size_t got = 0;

	if (fd < 0)
		return false;
	while (got < n) {
		ssize_t r = read(fd, buf + got, n - got);

		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	return got == n;
}

static void check_rng(void)
{
	struct vdev *v = find_dev(VID_RNG, 0);
	char cur[64] = "";
	unsigned char a[64], b[64];

	if (!v) {
		result("AVP-RNG-1", "ABSENT", "no virtio-rng device (ID 4) in /sys/bus/virtio/devices");
		return;
	}
	read_text("/sys/class/misc/hw_random/rng_current", cur, sizeof(cur));
	if (strncmp(cur, "virtio_rng", 10) != 0) {
		result("AVP-RNG-1", "FAIL", "%s (driver '%s') present but the current hwrng is '%s'", v->name, v->driver,
		       cur);
		v->tested = -1;
		return;
	}
	if (!rng_read(a, sizeof(a)) || !rng_read(b, sizeof(b))) {
		result("AVP-RNG-1", "FAIL", "reading /dev/hwrng (%s) failed: %s", cur, strerror(errno));
		v->tested = -1;
		return;
	}
	/* Two reads that match, or an all-equal buffer, are not random. */
	{
		bool same = memcmp(a, b, sizeof(a)) == 0, flat = true;

		for (size_t i = 1; i < sizeof(a); i++)
			flat = flat && a[i] == a[0];
		v->tested = same || flat ? -1 : 1;
		result("AVP-RNG-1", same || flat ? "FAIL" : "PASS",
		       "%s is the current hwrng; two 64-byte reads of /dev/hwrng %s (host-side CSPRNG source not observable from the guest)",
		       cur, same ? "are IDENTICAL" : flat ? "are constant" : "differ");
	}
}

static void check_console(void)
{
	struct vdev *v = find_dev(VID_CONSOLE, 0);
	char tok[128];
	int fd;

	if (!v) {
		result("AVP-CON-1", "ABSENT", "no virtio-console device (ID 3)");
		return;
	}
	fd = open("/dev/hvc0", O_WRONLY | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		result("AVP-CON-1", "FAIL", "%s (driver '%s') but no /dev/hvc0: %s", v->name, v->driver, strerror(errno));
		v->tested = -1;
		return;
	}
	/* The host looks for this token in its end of the console. */
	snprintf(tok, sizeof(tok), "AVPCONF-HVC0-%s\n", nonce);
	if (write(fd, tok, strlen(tok)) != (ssize_t)strlen(tok)) {
		result("AVP-CON-1", "FAIL", "write to /dev/hvc0 failed: %s", strerror(errno));
		v->tested = -1;
	} else {
		v->tested = 1;
		result("AVP-CON-1", "PASS", "%s bound to %s gives /dev/hvc0; wrote token AVPCONF-HVC0-<nonce> (the host checks it arrived)",
		       v->name, v->driver);
	}
	close(fd);
}

/* ----------------------------------------------------------------- vsock */

static int vsock_cid(void)
{
	int fd = open("/dev/vsock", O_RDONLY | O_CLOEXEC);
	unsigned int cid = 0;

	if (fd < 0)
		return -1;
	if (ioctl(fd, IOCTL_VM_SOCKETS_GET_LOCAL_CID, &cid) < 0)
		cid = 0;
	close(fd);
	return (int)cid;
}

/* Read from FD until EOF or CAP-1 bytes, each read waiting at most
 * TIMEOUT_MS. Returns the byte count, -1 on error or timeout. */
static ssize_t read_all(int fd, char *buf, size_t cap, int timeout_ms)
{
	size_t got = 0;

	while (got < cap - 1) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, timeout_ms) <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		n = read(fd, buf + got, cap - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	return (ssize_t)got;
}

/* A stream socket connected to CID:PORT within TIMEOUT_S, or -1 with why
 * said (socket or connect failing). */
static int vsock_dial(unsigned int cid, unsigned int port, int timeout_s, char *why, size_t cap)
{
	int s = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = cid, .svm_port = port };
	struct timeval tv = { timeout_s, 0 };

	if (s < 0) {
		snprintf(why, cap, "socket(AF_VSOCK): %s", strerror(errno));
		return -1;
	}
	setsockopt(s, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT_NEW, &tv, sizeof(tv));
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		snprintf(why, cap, "connect to CID %u port %u: %s", cid, port, strerror(errno));
		close(s);
		return -1;
	}
	return s;
}

/* A real stream to CID:PORT: connect, send TOK, half-close, and read the
 * echo until EOF. True when exactly TOK came back. A reset or a refusal
 * is a failure: it proves a transport, not a working stream. */
static bool vsock_exchange(unsigned int cid, unsigned int port, const char *tok, int timeout_s, char *why,
			   size_t cap)
{
	int s = vsock_dial(cid, port, timeout_s, why, cap);
	char back[256];
	ssize_t n;
	bool ok = false;

	if (s < 0)
		return false;
	if (write(s, tok, strlen(tok)) != (ssize_t)strlen(tok) || shutdown(s, SHUT_WR) < 0) {
		snprintf(why, cap, "send to CID %u port %u: %s", cid, port, strerror(errno));
	} else if ((n = read_all(s, back, sizeof(back), 15000)) < 0) {
		snprintf(why, cap, "reading the echo from CID %u port %u: %s", cid, port, strerror(errno));
	} else {
		ok = strcmp(back, tok) == 0;
		snprintf(why, cap, "CID %u port %u echoed %zd bytes%s", cid, port, n,
			 ok ? " (the token)" : " that differ from the token");
	}
	close(s);
	return ok;
}

/* A stream to CID:PORT whose peer echoes a line and then closes: send
 * TOK (one line) without half-closing, read the echo until EOF, and then
 * a send must fail with EPIPE: the peer's close has to reach us as the
 * end of both directions (it receives no more either), not only as EOF.
 * True when exactly TOK came back and the send failed so. */
static bool vsock_exchange_close(unsigned int cid, unsigned int port, const char *tok, int timeout_s,
				 char *why, size_t cap)
{
	int s = vsock_dial(cid, port, timeout_s, why, cap);
	char back[256];
	ssize_t n;
	bool ok = false;

	if (s < 0)
		return false;
	if (write(s, tok, strlen(tok)) != (ssize_t)strlen(tok)) {
		snprintf(why, cap, "send to CID %u port %u: %s", cid, port, strerror(errno));
	} else if ((n = read_all(s, back, sizeof(back), 15000)) < 0) {
		snprintf(why, cap, "reading the echo from CID %u port %u: %s", cid, port, strerror(errno));
	} else if (strcmp(back, tok) != 0) {
		snprintf(why, cap, "CID %u port %u echoed %zd bytes that differ from the token", cid, port, n);
	} else {
		ssize_t w = send(s, "x", 1, MSG_NOSIGNAL);
		int err = errno;

		ok = w < 0 && err == EPIPE;
		snprintf(why, cap, "CID %u port %u echoed the token and closed; a send after that %s", cid,
			 port, ok ? "failed with EPIPE (the close reached us both ways)"
			 : w < 0 ? strerror(err) : "SUCCEEDED (the close reached us as EOF only)");
	}
	close(s);
	return ok;
}

/* AVP-VSOCK-2, the receive side's shutdown: serve one connection on LS
 * within TIMEOUT_MS: shut our receive side, send one line, and stay until
 * the peer closes (POLLHUP), so that only our SHUT_RD, not a close, can
 * make the peer's send fail. */
static void vsock_serve_shutrd(int ls, int timeout_ms)
{
	struct pollfd p = { .fd = ls, .events = POLLIN };
	static const char line[] = "AVPCONF-SHUTRD\n";
	int c;

	if (poll(&p, 1, timeout_ms) <= 0 || (c = accept(ls, NULL, NULL)) < 0)
		return;
	if (shutdown(c, SHUT_RD) == 0 && write(c, line, sizeof(line) - 1) == (ssize_t)sizeof(line) - 1) {
		p = (struct pollfd){ .fd = c, .events = 0 };
		poll(&p, 1, 20000);
	}
	close(c);
}

/* The other half: read the line of vsock_serve_shutrd; a send must then
 * fail with EPIPE, the peer's SHUT_RD having reached us. */
static bool vsock_check_shutrd(unsigned int cid, unsigned int port, char *why, size_t cap)
{
	int s = vsock_dial(cid, port, 5, why, cap);
	char line[32];
	size_t got = 0;
	bool ok = false;

	if (s < 0)
		return false;
	while (got < sizeof(line) - 1 && (got == 0 || line[got - 1] != '\n')) {
		struct pollfd p = { .fd = s, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 15000) <= 0 || (n = read(s, line + got, sizeof(line) - 1 - got)) <= 0)
			break;
		got += (size_t)n;
	}
	line[got] = '\0';
	if (strcmp(line, "AVPCONF-SHUTRD\n") != 0) {
		snprintf(why, cap, "port %u: no line from the peer", port);
	} else {
		ssize_t w = send(s, "x", 1, MSG_NOSIGNAL);
		int err = errno;

		ok = w < 0 && err == EPIPE;
		snprintf(why, cap, "after the peer's SHUT_RD (port %u) a send %s", port,
			 ok ? "failed with EPIPE" : w < 0 ? strerror(err) : "SUCCEEDED");
	}
	close(s);
	return ok;
}

static int vsock_listen(unsigned int port)
{
	int s = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = port };

	if (s < 0)
		return -1;
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(s, 4) < 0) {
		close(s);
		return -1;
	}
	return s;
}

/* Serve one connection on listening socket LS within TIMEOUT_MS: read
 * until the peer half-closes, echo it back. The peer's bytes go to GOT. */
static bool vsock_serve_one(int ls, int timeout_ms, char *got, size_t gcap, unsigned int *peer)
{
	struct pollfd p = { .fd = ls, .events = POLLIN };
	struct sockaddr_vm sa;
	socklen_t sl = sizeof(sa);
	ssize_t n;
	int c;

	got[0] = '\0';
	if (poll(&p, 1, timeout_ms) <= 0) {
		snprintf(got, gcap, "no connection within %d s", timeout_ms / 1000);
		return false;
	}
	c = accept(ls, (struct sockaddr *)&sa, &sl);
	if (c < 0) {
		snprintf(got, gcap, "accept: %s", strerror(errno));
		return false;
	}
	*peer = sa.svm_cid;
	n = read_all(c, got, gcap, 15000);
	if (n > 0 && write(c, got, (size_t)n) != n)
		n = -1;
	close(c);
	return n > 0;
}

/* AVP-VSOCK-1: host<->guest streams both ways. The host echoes the line
 * the guest sends to CID 2 port 5000 and closes (a send after that must
 * fail with EPIPE), and connects to the guest's port 1234 with its own
 * token and half-closes (the guest reads EOF), which the guest echoes and
 * closes (the host reads EOF). */
static void check_vsock(void)
{
	struct vdev *v = find_dev(VID_VSOCK, 0);
	struct ev e = { 0 };
	char why[200], tok[128], want[128], got[256];
	unsigned int peer = 0;
	bool g2h = false, h2g = false;
	int cid, ls;

	if (!v) {
		result("AVP-VSOCK-1", "ABSENT", "no virtio-vsock device (ID 19)");
		return;
	}
	cid = vsock_cid();
	info("vsock_cid", "%d", cid);
	if (cid < 3) {
		result("AVP-VSOCK-1", "FAIL", "%s (driver '%s'): local CID %d", v->name, v->driver, cid);
		v->tested = -1;
		return;
	}
	ev_add(&e, "%s bound to %s, guest CID %d", v->name, v->driver, cid);
	ls = vsock_listen(1234);
	if (ls < 0)
		ev_add(&e, "listen on port 1234: %s", strerror(errno));
	mark("vsock-listening port=1234");
	snprintf(tok, sizeof(tok), "AVPCONF-VSOCK-G2H-%s\n", nonce);
	/* The host's echo server may still be coming up: a few tries. */
	for (int i = 0; i < 5 && !g2h; i++) {
		if (i)
			msleep(1000);
		g2h = vsock_exchange_close(2, 5000, tok, 10, why, sizeof(why));
	}
	ev_add(&e, "guest->host: %s", why);
	if (ls >= 0) {
		snprintf(want, sizeof(want), "AVPCONF-VSOCK-H2G-%s\n", nonce);
		h2g = vsock_serve_one(ls, 90000, got, sizeof(got), &peer) && strcmp(got, want) == 0;
		got[strcspn(got, "\n")] = '\0';
		ev_add(&e, "host->guest on port 1234: %s from CID %u%s", h2g ? "the host's token, echoed" : got, peer,
		       h2g ? "" : " (not the host's token)");
		close(ls);
	}
	v->tested = g2h && h2g ? 1 : -1;
	result("AVP-VSOCK-1", g2h && h2g ? "PASS" : "FAIL", "%s", e.s);
}

/* ---------------------------------------------- other device classes */

/* Presence-only judgement for device types the reference guest cannot
 * exercise further. A device without a bound driver proves nothing. */
static void presence(const char *idstr, unsigned int vid, const char *what)
{
	struct vdev *v = find_dev(vid, 0);

	if (!v)
		result(idstr, "ABSENT", "no %s device (virtio ID %u)", what, vid);
	else if (!v->driver[0])
		result(idstr, "FAIL", "%s offered (%s, ID %u) but no driver in the reference guest bound to it: nothing could be verified",
		       what, v->name, vid);
	else
		result(idstr, "PASS", "%s offered (%s, ID %u) and bound to %s with status 0x%x", what, v->name, vid,
		       v->driver, v->status);
}

/* Debian's kernel has no virtio-gpio or virtio-i2c driver; an initrd that
 * carries the upstream ones (scripts/mkguest-gpio-i2c) has them in
 * /lib/modules/extra. Loads MODULE when its device is there unbound; the
 * device's driver is read again. */
static void load_extra(struct vdev *v, const char *module)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "/lib/modules/extra/%s.ko", module);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	syscall(SYS_finit_module, fd, "", 0); /* EEXIST when loaded before */
	close(fd);
	if (v)
		scan_one(v);
}

/* AVP-GPIO-1: the gpiochip of the virtio-gpio device (labelled with the
 * virtio device's name) works through the GPIO character device: a line
 * requested as an output reads back each level driven on it, through
 * SET_VALUE and GET_VALUE on the device. */
static void check_gpio(void)
{
	struct vdev *v = find_dev(VID_GPIO, 0);
	char path[64];
	struct ev e = { 0 };
	int chip = -1, ok = 0;
	unsigned int lines = 0;

	if (v && !v->driver[0])
		load_extra(v, "gpio-virtio");
	if (!v || !v->driver[0]) {
		presence("AVP-GPIO-1", VID_GPIO, "virtio-gpio");
		return;
	}
	for (int n = 0; n < 32 && chip < 0; n++) {
		struct gpiochip_info info;
		int fd;

		snprintf(path, sizeof(path), "/dev/gpiochip%d", n);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (ioctl(fd, GPIO_GET_CHIPINFO_IOCTL, &info) == 0 && strcmp(info.label, v->name) == 0) {
			chip = fd;
			lines = info.lines;
			continue;
		}
		close(fd);
	}
	if (chip < 0) {
		result("AVP-GPIO-1", "FAIL", "%s bound to %s but no gpiochip labelled %s", v->name, v->driver,
		       v->name);
		return;
	}
	ev_add(&e, "%s bound to %s: %s, %u lines", v->name, v->driver, path, lines);
	if (lines) {
		struct gpio_v2_line_request req;

		memset(&req, 0, sizeof(req));
		req.offsets[0] = lines - 1;
		req.num_lines = 1;
		snprintf(req.consumer, sizeof(req.consumer), "avp-conform");
		req.config.flags = GPIO_V2_LINE_FLAG_OUTPUT;
		if (ioctl(chip, GPIO_V2_GET_LINE_IOCTL, &req) == 0) {
			for (unsigned int lvl = 1, n = 0; n < 3; n++, lvl ^= 1) {
				struct gpio_v2_line_values set = { .bits = lvl, .mask = 1 }, got = { .mask = 1 };

				if (ioctl(req.fd, GPIO_V2_LINE_SET_VALUES_IOCTL, &set) == 0 &&
				    ioctl(req.fd, GPIO_V2_LINE_GET_VALUES_IOCTL, &got) == 0 && (got.bits & 1) == lvl)
					ok++;
			}
			close(req.fd);
			ev_add(&e, "line %u as an output read back %d of 3 levels driven (1, 0, 1)", lines - 1, ok);
		} else {
			ev_add(&e, "requesting line %u as an output failed: %s", lines - 1, strerror(errno));
		}
	}
	close(chip);
	result("AVP-GPIO-1", ok == 3 ? "PASS" : "FAIL", "%s", e.s);
}

/* One I2C transfer through i2c-dev: write [reg], read 1 byte. 0 or -errno. */
static int i2c_read_reg(const char *dev, unsigned int addr, uint8_t reg, uint8_t *val)
{
	struct i2c_msg m[2] = {
		{ .addr = (uint16_t)addr, .flags = 0, .len = 1, .buf = &reg },
		{ .addr = (uint16_t)addr, .flags = I2C_M_RD, .len = 1, .buf = val },
	};
	struct i2c_rdwr_ioctl_data x = { .msgs = m, .nmsgs = 2 };
	int fd = open(dev, O_RDWR | O_CLOEXEC), ret = 0, n;

	if (fd < 0)
		return -errno;
	/* The count of messages done: fewer than both is a failure too
	 * (i2c-virtio counts those before the first error, often 0). */
	n = ioctl(fd, I2C_RDWR, &x);
	if (n < 0)
		ret = -errno;
	else if (n != 2)
		ret = -EIO;
	close(fd);
	return ret;
}

/* AVP-I2C-1: the virtio-i2c adapter carries a combined write-read
 * transfer to the address the host allows (a chip answers there), and
 * the address it does not allow fails. */
static void check_i2c(void)
{
	struct vdev *v = find_dev(VID_I2C, 0);
	const char *p = param("i2c");
	char dev[64] = "";
	struct ev e = { 0 };
	unsigned int allow = 0, deny = 0;
	uint8_t val = 0;
	int r1, r2;
	DIR *d;
	struct dirent *de;

	if (v && !v->driver[0])
		load_extra(v, "i2c-virtio");
	if (!v || !v->driver[0]) {
		presence("AVP-I2C-1", VID_I2C, "virtio-i2c");
		return;
	}
	load_extra(NULL, "i2c-dev");
	d = opendir("/sys/bus/i2c/devices");
	while (d && (de = readdir(d)) && !dev[0]) {
		char path[PATH_MAX], real[PATH_MAX];

		if (strncmp(de->d_name, "i2c-", 4))
			continue;
		/* the adapter's parent is the virtio device */
		snprintf(path, sizeof(path), "/sys/bus/i2c/devices/%s", de->d_name);
		if (realpath(path, real) && strstr(real, v->name))
			snprintf(dev, sizeof(dev), "/dev/%s", de->d_name);
	}
	if (d)
		closedir(d);
	if (!dev[0]) {
		result("AVP-I2C-1", "FAIL", "%s bound to %s but no I2C adapter under it", v->name, v->driver);
		return;
	}
	if (!p || sscanf(p, "%x,%x", &allow, &deny) != 2) {
		result("AVP-I2C-1", "FAIL", "%s bound to %s (%s); the harness gave no address to try "
		       "(avp.conform.i2c=ADDR,DENY)", v->name, v->driver, dev);
		return;
	}
	for (int i = 0; i < 50 && access(dev, F_OK); i++)
		usleep(100000); /* devtmpfs makes the node */
	r1 = i2c_read_reg(dev, allow, 0, &val);
	r2 = i2c_read_reg(dev, deny, 0, &val);
	ev_add(&e, "%s bound to %s: %s; write-read at 0x%02x (allowed): %s; at 0x%02x (not allowed): %s",
	     v->name, v->driver, dev, allow, r1 ? strerror(-r1) : "ok", deny,
	     r2 ? strerror(-r2) : "succeeded");
	result("AVP-I2C-1", !r1 && r2 ? "PASS" : "FAIL", "%s", e.s);
}

/* Bit B of a sysfs input capability bitmap ("hex words, most significant
 * first, space separated"). */
static bool cap_bit(const char *caps, unsigned int b)
{
	const char *words[64];
	int n = 0;
	char buf[1024];
	char *save = NULL, *t;

	snprintf(buf, sizeof(buf), "%s", caps);
	for (t = strtok_r(buf, " ", &save); t && n < 64; t = strtok_r(NULL, " ", &save))
		words[n++] = t;
	unsigned int bits = (unsigned int)sizeof(long) * 8, w = b / bits;

	if ((int)w >= n)
		return false;
	return (strtoul(words[n - 1 - (int)w], NULL, 16) >> (b % bits)) & 1;
}

/* Host go-aheads: the host writes "AVPCONF-GO-<what>-<nonce>" into a disk
 * image (the main VM: at 16 MiB of the scratch disk); O_DIRECT reads
 * always reach the hypervisor. */
#define GO_OFFSET (16 * MiB)
static bool interactive = true;

static bool wait_go_on(const struct vdev *disk, off_t off, const char *what, int timeout_s)
{
	char want[128];
	uint8_t *buf = aligned(4096);
	int fd = disk ? blk_open(disk, O_RDONLY | O_DIRECT) : -1;
	double end = now_mono() + timeout_s;
	bool ok = false;

	snprintf(want, sizeof(want), "AVPCONF-GO-%s-%s", what, nonce);
	while (fd >= 0 && buf && !ok && now_mono() < end) {
		if (pread(fd, buf, 4096, off) == 4096 && memcmp(buf, want, strlen(want)) == 0)
			ok = true;
		else
			msleep(100);
	}
	if (fd >= 0)
		close(fd);
	free(buf);
	return ok;
}

static bool wait_go(const char *what, int timeout_s)
{
	return wait_go_on(scratch, GO_OFFSET, what, timeout_s);
}

/* Lines of FILE that start with PREFIX, joined with "; " into E. */
static int grep_lines(const char *file, const char *prefix, struct ev *e)
{
	FILE *f = fopen(file, "r");
	char line[256];
	int n = 0;

	while (f && fgets(line, sizeof(line), f)) {
		if (strncmp(line, prefix, strlen(prefix)) != 0)
			continue;
		line[strcspn(line, "\r\n")] = '\0';
		ev_add(e, "%s", line + strlen(prefix));
		n++;
	}
	if (f)
		fclose(f);
	return n;
}

static bool file_has(const char *file, const char *needle)
{
	char buf[4096];

	return read_text(file, buf, sizeof(buf)) && strstr(buf, needle);
}

/* AVP-GPU-1/2: the scanout, its EDID, and a picture the host captures.
 * gpu_pattern (the GPU test's guest program) sets the configured mode with
 * a four-quadrant picture through DRM dumb buffers; the host takes its
 * screenshot when it sees "gpu-drawn" and says "gpu-shot" when done. */
static void check_gpu(void)
{
	struct vdev *v = find_dev(VID_GPU, 0);
	DIR *d;
	struct dirent *de;
	char conn[64] = "", edid_src[PATH_MAX] = "";
	int scanouts = 0;
	unsigned int w = 0, h = 0;
	const char *size = param("gpu");
	struct ev e = { 0 };
	bool drawn = false, shot = false;

	if (!v) {
		result("AVP-GPU-1", "ABSENT", "no virtio-gpu device (ID 16)");
		result("AVP-GPU-2", "ABSENT", "no virtio-gpu device (ID 16)");
		mark("gpu-none");
		return;
	}
	/* The DRM device comes up asynchronously after the driver binds. */
	for (int i = 0; i < 100 && !exists("/dev/dri/card0"); i++)
		msleep(100);
	d = opendir("/sys/class/drm");
	while (d && (de = readdir(d))) {
		char path[PATH_MAX], st[32] = "";

		if (!strstr(de->d_name, "-Virtual-"))
			continue;
		snprintf(path, sizeof(path), "/sys/class/drm/%s/status", de->d_name);
		read_text(path, st, sizeof(st));
		if (strcmp(st, "connected") == 0) {
			scanouts++;
			snprintf(conn, sizeof(conn), "%s", de->d_name);
			snprintf(edid_src, sizeof(edid_src), "/sys/class/drm/%s/edid", de->d_name);
		}
	}
	if (d)
		closedir(d);
	ev_add(&e, "%s bound to '%s'; %d connected scanout(s)%s%s", v->name, v->driver, scanouts,
	       conn[0] ? " e.g. " : "", conn);
	if (!size || sscanf(size, "%ux%u", &w, &h) != 2) {
		ev_add(&e, "no configured size (avp.conform.gpu=WxH) to draw with");
	} else {
		pid_t pid = fork();

		if (pid == 0) {
			char ws[16], hs[16];
			int fd = open("/tmp/gpu.log", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

			snprintf(ws, sizeof(ws), "%u", w);
			snprintf(hs, sizeof(hs), "%u", h);
			if (fd >= 0) {
				dup2(fd, 1);
				dup2(fd, 2);
			}
			execl("/tests/bin/gpu_pattern", "gpu_pattern", ws, hs, "300", (char *)NULL);
			_exit(127);
		}
		for (int i = 0; pid > 0 && i < 600 && !drawn; i++) {
			int st;

			drawn = file_has("/tmp/gpu.log", "GPU-PATTERN-1 ");
			if (!drawn && waitpid(pid, &st, WNOHANG) == pid) {
				pid = -1;
				break;
			}
			if (!drawn)
				msleep(100);
		}
		if (drawn) {
			mark("gpu-drawn %ux%u", w, h);
			shot = interactive && wait_go("gpu-shot", 150);
		} else {
			mark("gpu-failed");
		}
		if (pid > 0) {
			kill(pid, SIGTERM);
			waitpid(pid, NULL, 0);
		}
		grep_lines("/tmp/gpu.log", "gpu-pattern: ", &e);
		ev_add(&e, "%s", drawn ? "drew a 4-quadrant picture by DRM dumb buffer + mode set" : "gpu_pattern drew nothing");
		if (drawn)
			ev_add(&e, "%s", shot ? "the host said it captured it (its pixel check is the host's row)"
					      : interactive ? "the host never said it captured it" : "no host capture (--quick)");
	}
	v->tested = scanouts && drawn ? 1 : -1;
	result("AVP-GPU-1", scanouts && drawn && !file_has("/tmp/gpu.log", "not ok") ? "PASS" : "FAIL", "%s", e.s);
	if (has_bit(v->feat, GPU_F_EDID)) {
		struct stat st;
		bool ok = edid_src[0] && stat(edid_src, &st) == 0;
		char buf[128];
		int fd = ok ? open(edid_src, O_RDONLY) : -1;
		ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf)) : -1;

		if (fd >= 0)
			close(fd);
		result("AVP-GPU-2", n >= 128 ? "PASS" : "FAIL", "VIRTIO_GPU_F_EDID negotiated; EDID of %s: %zd bytes%s",
		       conn, n, has_bit(v->feat, GPU_F_VIRGL) ? "; VIRGL negotiated" : "");
	} else {
		result("AVP-GPU-2", has_bit(v->feat, GPU_F_VIRGL) ? "PASS" : "ABSENT", "EDID not negotiated; VIRGL %s",
		       has_bit(v->feat, GPU_F_VIRGL) ? "negotiated" : "not negotiated");
	}
}

/* AVP-INPUT-1: a keyboard (KEY_A) and a multi-touch device
 * (ABS_MT_POSITION_X) among the virtio-input devices, and the events the
 * host feeds into them: KEY_A pressed and released, a touch at the
 * coordinates on the command line (avp.conform.touch=X,Y). */
static void check_input(void)
{
	int n = count_dev(VID_INPUT), kbd = -1, mt = -1, nk = 0, nm = 0;
	struct vdev *kdev = NULL, *mdev = NULL;
	struct ev e = { 0 };
	const char *tp = param("touch");
	int tx = -1, ty = -1;
	bool kdown = false, kup = false, tdown = false, gx = false, gy = false;
	int lastx = -1, lasty = -1;

	if (!n) {
		result("AVP-INPUT-1", "ABSENT", "no virtio-input device (ID 18)");
		mark("input-none");
		return;
	}
	if (tp)
		sscanf(tp, "%d,%d", &tx, &ty);
	for (int i = 0; i < ndevs; i++) {
		char path[PATH_MAX + 64], in[64] = "", evn[64] = "", key[1024] = "", abs[256] = "", name[128] = "";
		DIR *d;
		struct dirent *de;
		bool k, m;

		if (devs[i].id != VID_INPUT)
			continue;
		snprintf(path, sizeof(path), "%s/input", devs[i].syspath);
		first_entry(path, in, sizeof(in));
		if (!in[0])
			continue;
		snprintf(path, sizeof(path), "%s/input/%s/capabilities/key", devs[i].syspath, in);
		read_text(path, key, sizeof(key));
		snprintf(path, sizeof(path), "%s/input/%s/capabilities/abs", devs[i].syspath, in);
		read_text(path, abs, sizeof(abs));
		snprintf(path, sizeof(path), "%s/input/%s/name", devs[i].syspath, in);
		read_text(path, name, sizeof(name));
		snprintf(path, sizeof(path), "%s/input/%s", devs[i].syspath, in);
		d = opendir(path);
		while (d && (de = readdir(d)))
			if (strncmp(de->d_name, "event", 5) == 0)
				snprintf(evn, sizeof(evn), "%s", de->d_name);
		if (d)
			closedir(d);
		k = cap_bit(key, KEY_A);
		m = cap_bit(abs, ABS_MT_POSITION_X);
		nk += k;
		nm += m;
		ev_add(&e, "%s '%s' (%s%s%s)", devs[i].name, name, evn, k ? ", keyboard" : "", m ? ", multi-touch" : "");
		if ((k && kbd < 0) || (m && mt < 0)) {
			int fd;

			snprintf(path, sizeof(path), "/dev/input/%s", evn);
			fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
			if (fd < 0)
				ev_add(&e, "open %s: %s", path, strerror(errno));
			else if (k && kbd < 0)
				kbd = fd, kdev = &devs[i];
			else
				mt = fd, mdev = &devs[i];
		}
	}
	ev_add(&e, "%d virtio-input: %d keyboard(s), %d multi-touch", n, nk, nm);
	if (!interactive) {
		result("AVP-INPUT-1", nk && nm ? "PASS" : "FAIL", "%s; host feeding not run (--quick)", e.s);
		if (kbd >= 0)
			close(kbd);
		if (mt >= 0)
			close(mt);
		return;
	}
	mark("input-ready kbd=%d mt=%d", kbd >= 0, mt >= 0);
	for (double end = now_mono() + 90; now_mono() < end;) {
		struct pollfd pf[2] = { { .fd = kbd, .events = POLLIN }, { .fd = mt, .events = POLLIN } };
		struct input_event ie;

		if ((kbd < 0 || (kdown && kup)) && (mt < 0 || (tdown && gx && gy)))
			break;
		if (poll(pf, 2, 500) <= 0)
			continue;
		while (kbd >= 0 && read(kbd, &ie, sizeof(ie)) == (ssize_t)sizeof(ie))
			if (ie.type == EV_KEY && ie.code == KEY_A && ie.value)
				kdown = true;
			else if (ie.type == EV_KEY && ie.code == KEY_A)
				kup = true;
		while (mt >= 0 && read(mt, &ie, sizeof(ie)) == (ssize_t)sizeof(ie)) {
			if (ie.type == EV_KEY && ie.code == BTN_TOUCH && ie.value == 1)
				tdown = true;
			if (ie.type == EV_ABS && ie.code == ABS_MT_POSITION_X) {
				lastx = ie.value;
				gx = gx || ie.value == tx;
			}
			if (ie.type == EV_ABS && ie.code == ABS_MT_POSITION_Y) {
				lasty = ie.value;
				gy = gy || ie.value == ty;
			}
		}
	}
	if (kbd >= 0)
		ev_add(&e, "host-fed KEY_A: press %s, release %s", kdown ? "seen" : "NOT seen", kup ? "seen" : "NOT seen");
	if (mt >= 0)
		ev_add(&e, "host-fed touch at (%d,%d): %s (last MT position %d,%d, BTN_TOUCH %s)", tx, ty,
		       gx && gy ? "seen" : "NOT seen", lastx, lasty, tdown ? "down" : "never down");
	if (kdev)
		kdev->tested = kdown && kup ? 1 : -1;
	if (mdev)
		mdev->tested = tdown && gx && gy ? 1 : -1;
	result("AVP-INPUT-1", kbd >= 0 && mt >= 0 && kdown && kup && tdown && gx && gy ? "PASS" : "FAIL", "%s", e.s);
	if (kbd >= 0)
		close(kbd);
	if (mt >= 0)
		close(mt);
}

/* AVP-SND-1: the ALSA PCMs of the virtio-snd card, and 0.1 s played and
 * recorded through them with sndtest (the sound test's guest program).
 * The host checks that OUT.wav got the 1 kHz tone and that the recording
 * hashes like the first 4800 frames of its IN.wav. */
static void check_sound(void)
{
	struct vdev *v = find_dev(VID_SOUND, 0);
	FILE *f;
	char line[256];
	int play = 0, cap = 0, rp, rr;
	struct ev e = { 0 };

	if (!v) {
		result("AVP-SND-1", "ABSENT", "no virtio-sound device (ID 25)");
		return;
	}
	f = fopen("/proc/asound/pcm", "r");
	while (f && fgets(line, sizeof(line), f)) {
		play += strstr(line, "playback") != NULL;
		cap += strstr(line, "capture") != NULL;
	}
	if (f)
		fclose(f);
	ev_add(&e, "%s bound to '%s'; ALSA PCMs with playback: %d, with capture: %d", v->name, v->driver, play, cap);
	rp = play ? run("sndtest play 1000 4800 >/tmp/snd.log 2>&1") : -1;
	rr = cap ? run("sndtest rec 4800 >>/tmp/snd.log 2>&1") : -1;
	grep_lines("/tmp/snd.log", "sndtest: ", &e);
	{
		char buf[4096], *r;

		if (read_text("/tmp/snd.log", buf, sizeof(buf)) && (r = strstr(buf, "fnv=0x")))
			info("snd_rec_fnv", "%.10s", r + 4);
	}
	v->tested = rp == 0 && rr == 0 ? 1 : -1;
	result("AVP-SND-1", play && cap && rp == 0 && rr == 0 ? "PASS" : "FAIL",
	       "%s; played 4800 frames of 1 kHz (exit %d), recorded 4800 frames (exit %d); the host checks both WAV ends",
	       e.s, rp, rr);
}

static void check_media(void)
{
	check_sound();
	check_input();
	check_gpu();
	presence("AVP-MEDIA-1", VID_MEDIA, "virtio-media");
}

/* ------------------------------------------------------------------- CAN */

/* AVP-CAN-1. The harness puts a host CAN interface (a vcan with CAN FD)
 * behind the hypervisor's virtio-can and an echo on it (conformance/
 * inside.sh: guest/tools/cantest echo): a frame with ID CAN_ECHO_ID,
 * standard or extended, comes back as CAN_ECHO_ID + 1 with the same bytes.
 * The reference guest's driver is avp's own (guest/drivers/virtio_can:
 * Debian's 6.12 has none), loaded from initrd-can.img. */
#define CAN_ECHO_ID 0x1a0

static bool can_roundtrip(int s, bool fd, bool ext, unsigned int len, unsigned int seed,
			  char *why, size_t cap)
{
	struct canfd_frame f = { 0 }, r;
	size_t n = fd ? CANFD_MTU : CAN_MTU;
	double end;

	f.can_id = CAN_ECHO_ID | (ext ? CAN_EFF_FLAG : 0);
	f.len = (uint8_t)len;
	if (fd)
		f.flags = CANFD_FDF;
	for (unsigned int j = 0; j < len; j++)
		f.data[j] = (uint8_t)(seed + j * 29u);
	if (write(s, &f, n) != (ssize_t)n) {
		snprintf(why, cap, "sending a %s frame: %s", fd ? "FD" : "classic", strerror(errno));
		return false;
	}
	end = now_mono() + 5;
	while (now_mono() < end) {
		struct pollfd p = { .fd = s, .events = POLLIN };
		ssize_t got;

		if (poll(&p, 1, 200) <= 0)
			continue;
		got = read(s, &r, sizeof(r));
		if (got < 0)
			break;
		if (r.can_id != ((CAN_ECHO_ID + 1) | (ext ? CAN_EFF_FLAG : 0)))
			continue;
		if ((size_t)got != n || r.len != len || memcmp(r.data, f.data, len)) {
			snprintf(why, cap, "the %s%s frame came back changed (%zd bytes, len %u)",
				 ext ? "extended " : "", fd ? "FD" : "classic", got, r.len);
			return false;
		}
		return true;
	}
	snprintf(why, cap, "no answer to a %s%s frame within 5 s (the host's echo on its CAN interface)",
		 ext ? "extended " : "", fd ? "FD" : "classic");
	return false;
}

static void check_can(void)
{
	struct vdev *v = find_dev(VID_CAN, 0);
	struct can_filter fl[2] = {
		{ .can_id = CAN_ECHO_ID + 1, .can_mask = CAN_SFF_MASK | CAN_EFF_FLAG },
		{ .can_id = (CAN_ECHO_ID + 1) | CAN_EFF_FLAG, .can_mask = CAN_EFF_MASK | CAN_EFF_FLAG },
	};
	struct sockaddr_can addr = { .can_family = AF_CAN };
	char cmd[128], why[200] = "";
	bool classic, fd;
	unsigned int seed = (unsigned int)(now_mono() * 1000), done = 0;
	int s, on = 1;

	if (!v) {
		result("AVP-CAN-1", "ABSENT", "no virtio-can device (virtio ID %u)", VID_CAN);
		return;
	}
	if (!v->driver[0]) {
		result("AVP-CAN-1", "FAIL", "virtio-can offered (%s, ID %u) but no driver bound to it (is virtio_can.ko in the guest image? scripts/mkguest-can)",
		       v->name, VID_CAN);
		return;
	}
	if (!v->net[0]) {
		result("AVP-CAN-1", "FAIL", "virtio-can bound to %s but no CAN network interface appeared", v->driver);
		return;
	}
	classic = has_bit(v->feat, 0);
	fd = has_bit(v->feat, 1);
	snprintf(cmd, sizeof(cmd), "ip link set %s up", v->net);
	if (run(cmd) != 0) {
		result("AVP-CAN-1", "FAIL", "virtio-can bound to %s as %s, but 'ip link set %s up' failed (START refused?)",
		       v->driver, v->net, v->net);
		return;
	}
	s = socket(PF_CAN, SOCK_RAW, CAN_RAW);
	addr.can_ifindex = (int)if_nametoindex(v->net);
	if (s < 0 || (fd && setsockopt(s, SOL_CAN_RAW, CAN_RAW_FD_FRAMES, &on, sizeof(on)) < 0) ||
	    setsockopt(s, SOL_CAN_RAW, CAN_RAW_FILTER, fl, sizeof(fl)) < 0 ||
	    bind(s, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		result("AVP-CAN-1", "FAIL", "a raw CAN socket on %s: %s", v->net, strerror(errno));
		if (s >= 0)
			close(s);
		return;
	}
	/* 29-bit IDs always ("AVP-CAN-1 ... 29-bit extended IDs always
	 * work"), 11-bit ones too, at the largest payload of each type. */
	if (classic && can_roundtrip(s, false, false, 8, seed, why, sizeof(why)))
		done++;
	if (classic && !why[0] && can_roundtrip(s, false, true, 8, seed + 1, why, sizeof(why)))
		done++;
	if (fd && !why[0] && can_roundtrip(s, true, true, 64, seed + 2, why, sizeof(why)))
		done++;
	if (fd && !why[0] && can_roundtrip(s, true, false, 64, seed + 3, why, sizeof(why)))
		done++;
	close(s);
	if (why[0])
		result("AVP-CAN-1", "FAIL", "virtio-can (%s) bound to %s as %s: %s", v->name, v->driver, v->net, why);
	else
		result("AVP-CAN-1", "PASS",
		       "virtio-can (%s, ID %u, %s%s%s) bound to %s as %s: %u frames with 11- and 29-bit IDs (%s) went out on the host's CAN interface and came back byte for byte",
		       v->name, VID_CAN, classic ? "CAN_CLASSIC" : "", classic && fd ? " + " : "", fd ? "CAN_FD" : "",
		       v->driver, v->net, done,
		       fd && classic ? "8-byte classic and 64-byte FD" : fd ? "64-byte FD" : "8-byte classic");
}

static void check_misc(void)
{
	presence("AVP-IOMMU-1", VID_IOMMU, "virtio-iommu");
	{
		char e[64] = "";

		first_entry("/sys/bus/usb/devices", e, sizeof(e));
		if (e[0])
			result("AVP-USB-1", "PASS", "USB bus present (/sys/bus/usb/devices/%s)", e);
		else
			result("AVP-USB-1", "ABSENT", "no USB controller (/sys/bus/usb/devices is empty or missing)");
	}
	check_can();
	check_gpio();
	check_i2c();
	presence("AVP-SCMI-1", VID_SCMI, "virtio-scmi");
	presence("AVP-CRYPTO-1", VID_CRYPTO, "virtio-crypto");
	presence("AVP-RPMB-1", VID_RPMB, "virtio-rpmb");
	presence("AVP-FS-1", VID_FS, "virtio-fs");
	/* AVP-SHM-1: ivshmem (PCI 1af4:1110) is the common inter-VM shared
	 * memory device; a virtio shared-memory device would show above. */
	{
		DIR *d = opendir("/sys/bus/pci/devices");
		struct dirent *de;
		char found[64] = "";

		while (d && (de = readdir(d))) {
			char p[PATH_MAX], ven[16] = "", dev[16] = "";

			if (de->d_name[0] == '.')
				continue;
			snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/vendor", de->d_name);
			read_text(p, ven, sizeof(ven));
			snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/device", de->d_name);
			read_text(p, dev, sizeof(dev));
			if (strcmp(ven, "0x1af4") == 0 && strcmp(dev, "0x1110") == 0)
				snprintf(found, sizeof(found), "%s", de->d_name);
		}
		if (d)
			closedir(d);
		if (found[0])
			result("AVP-SHM-1", "PASS", "ivshmem device at PCI %s", found);
		else
			result("AVP-SHM-1", "ABSENT", "no inter-VM shared memory device (ivshmem PCI 1af4:1110)");
	}
}

/* A hypervisor watchdog, not the guest's own software one. */
static bool find_watchdog(char *ident, size_t cap)
{
	DIR *d = opendir("/sys/class/watchdog");
	struct dirent *de;
	bool found = false;

	ident[0] = '\0';
	while (d && (de = readdir(d))) {
		char p[PATH_MAX], id[96] = "";

		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "/sys/class/watchdog/%s/identity", de->d_name);
		read_text(p, id, sizeof(id));
		if (strstr(id, "Software Watchdog"))
			continue;
		snprintf(ident, cap, "%s (%s)", de->d_name, id);
		found = true;
		break;
	}
	if (d)
		closedir(d);
	return found;
}

static void check_watchdog_presence(void)
{
	char ident[160];

	/* Opening /dev/watchdog arms it, so the main run only looks; the
	 * arm-feed-expire test is role d, which the host starts when this
	 * line says a watchdog exists. */
	if (find_watchdog(ident, sizeof(ident)))
		info("watchdog", "%s", ident);
	else
#ifdef __aarch64__
		result("AVP-WDT-1", "ABSENT", "no hypervisor watchdog in /sys/class/watchdog (sp805_wdt loaded: %s)",
		       exists("/sys/module/sp805_wdt") ? "yes" : "no");
#else
		result("AVP-WDT-1", "ABSENT", "no hypervisor watchdog in /sys/class/watchdog (wdat_wdt loaded: %s)",
		       exists("/sys/module/wdat_wdt") ? "yes" : "no");
#endif
}

/* ---------------------------------------------------- transport dynamics */

static bool wait_bound(const char *name, const char *drv, double secs)
{
	char path[256], link[PATH_MAX];
	double end = now_mono() + secs;

	snprintf(path, sizeof(path), "/sys/bus/virtio/devices/%s/driver", name);
	do {
		ssize_t n = readlink(path, link, sizeof(link) - 1);

		if (n > 0) {
			link[n] = '\0';
			if (strcmp(strrchr(link, '/') + 1, drv) == 0)
				return true;
		}
		msleep(50);
	} while (now_mono() < end);
	return false;
}

/* Unbind and rebind DEV's driver: the driver resets the device on remove
 * and negotiates from scratch on probe. */
static bool rebind(struct vdev *v, struct ev *e)
{
	char path[256], drv[48];

	snprintf(drv, sizeof(drv), "%s", v->driver);
	snprintf(path, sizeof(path), "/sys/bus/virtio/drivers/%s/unbind", drv);
	if (!write_text(path, v->name)) {
		ev_add(e, "unbind %s from %s failed: %s", v->name, drv, strerror(errno));
		return false;
	}
	snprintf(path, sizeof(path), "/sys/bus/virtio/drivers/%s/bind", drv);
	if (!write_text(path, v->name) || !wait_bound(v->name, drv, 5)) {
		ev_add(e, "rebinding %s to %s failed: %s", v->name, drv, strerror(errno));
		return false;
	}
	scan_one(v);
	if ((v->status & (S_DRIVER_OK | S_FEATURES_OK)) != (S_DRIVER_OK | S_FEATURES_OK)) {
		ev_add(e, "%s status 0x%x after rebind", v->name, v->status);
		return false;
	}
	return true;
}

static void check_transport_dynamic(void)
{
	struct ev e = { 0 };
	bool ok = true;
	int checked = 0;

	for (int i = 0; i < ndevs; i++) {
		struct vdev *v = &devs[i];

		if (!v->driver[0])
			continue;
		checked++;
		if ((v->status & (S_DRIVER_OK | S_FEATURES_OK)) != (S_DRIVER_OK | S_FEATURES_OK) ||
		    (v->status & (S_FAILED | S_NEEDS_RESET))) {
			ev_add(&e, "%s status 0x%x", v->name, v->status);
			ok = false;
		}
	}
	ev_add(&e, "%d bound devices report FEATURES_OK|DRIVER_OK", checked);
	{
		struct vdev *rng = find_dev(VID_RNG, 0);
		unsigned char a[32];

		if (rng && rng->driver[0]) {
			bool r = rebind(rng, &e) && rng_read(a, sizeof(a));

			ev_add(&e, "virtio-rng reset+rebind %s", r ? "works (read 32 bytes after)" : "FAILED");
			ok = ok && r;
		}
	}
	if (scratch && scratch->driver[0]) {
		bool r = rebind(scratch, &e);
		struct ev tmp = { 0 };

		r = r && scratch->blk[0] && blk_rw(scratch, 6 * MiB, 64 * 1024, nonce_seed(6), &tmp);
		ev_add(&e, "virtio-blk reset+rebind %s%s", r ? "works (write/read-back after)" : "FAILED ", r ? "" : tmp.s);
		ok = ok && r;
	}
	if (checked == 0)
		ok = false;
	result("AVP-TRANS-2", ok ? "PASS" : "FAIL", "%s", e.s);
}

static void check_ring_features(void)
{
	struct ev e = { 0 };
	int offered = 0;
	bool bad = false;

	for (int i = 0; i < ndevs; i++) {
		struct vdev *v = &devs[i];
		bool ind = has_bit(v->feat, F_INDIRECT_DESC), eidx = has_bit(v->feat, F_EVENT_IDX),
		     pk = has_bit(v->feat, F_RING_PACKED);

		if (!ind && !eidx && !pk)
			continue;
		offered++;
		/* "When offered they must work": every device that negotiated
		 * one of them and was exercised above must have worked. */
		if (v->tested < 0)
			bad = true;
		ev_add(&e, "%s(id %u):%s%s%s %s", v->name, v->id, ind ? " INDIRECT" : "", eidx ? " EVENT_IDX" : "",
		       pk ? " PACKED" : "", v->tested > 0 ? "worked" : v->tested < 0 ? "FAILED" : "not exercised");
	}
	if (!offered)
		result("AVP-TRANS-4", "ABSENT", "no device negotiated RING_PACKED, EVENT_IDX or INDIRECT_DESC");
	else
		result("AVP-TRANS-4", bad ? "FAIL" : "PASS", "%s", e.s);
}

/* ------------------------------------------------------------- pair roles */

/* Any /dev/input/event* that can send KEY_POWER (the ACPI power button). */
static int open_power_buttons(struct pollfd *pf, int max)
{
	int n = 0;

	for (int i = 0; i < 16 && n < max; i++) {
		char p[64];
		unsigned long keys[KEY_MAX / (8 * sizeof(long)) + 1] = { 0 };
		int fd;

		snprintf(p, sizeof(p), "/dev/input/event%d", i);
		fd = open(p, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (ioctl(fd, EVIOCGBIT(EV_KEY, sizeof(keys)), keys) >= 0 &&
		    (keys[KEY_POWER / (8 * sizeof(long))] >> (KEY_POWER % (8 * sizeof(long)))) & 1) {
			pf[n].fd = fd;
			pf[n].events = POLLIN;
			n++;
		} else {
			close(fd);
		}
	}
	return n;
}

static bool power_pressed(struct pollfd *pf, int n, int timeout_ms)
{
	if (n == 0) {
		msleep((unsigned int)timeout_ms);
		return false;
	}
	if (poll(pf, (nfds_t)n, timeout_ms) <= 0)
		return false;
	for (int i = 0; i < n; i++) {
		struct input_event ev;

		if (!(pf[i].revents & POLLIN))
			continue;
		while (read(pf[i].fd, &ev, sizeof(ev)) == (ssize_t)sizeof(ev))
			if (ev.type == EV_KEY && ev.code == KEY_POWER && ev.value == 1)
				return true;
	}
	return false;
}

/* Both pair VMs: reach the peer over the host's virtual network. */
static void pair_common(const char *me)
{
	struct vdev *v = find_dev(VID_NET, 0);
	const char *self = param("self"), *peer = param("peer");
	char sig[32], seen[256] = "";

	/* Device isolation: which pair disks does this VM see? */
	for (int i = 0; i < ndevs; i++) {
		char path[64], buf[32] = { 0 };
		int fd;

		if (devs[i].id != VID_BLK || !devs[i].blk[0])
			continue;
		snprintf(path, sizeof(path), "/dev/%s", devs[i].blk);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0 && pread(fd, buf, sizeof(buf) - 1, 0) > 0 && strncmp(buf, "AVPCONF-", 8) == 0) {
			buf[strcspn(buf, " \n")] = '\0';
			strncat(seen, buf, sizeof(seen) - strlen(seen) - 2);
			strcat(seen, " ");
		}
		if (fd >= 0)
			close(fd);
	}
	snprintf(sig, sizeof(sig), "AVPCONF-PAIR-%s", me);
	info("disks_seen", "%s", seen);
	info("vsock_cid", "%d", find_dev(VID_VSOCK, 0) ? vsock_cid() : -1);

	/* AVP-VSOCK-2: a serves one echo on vsock port 1235 and one
	 * SHUT_RD on 1236 (in a child, so that its own work goes on); b
	 * connects to them after its ping shows that a is up. */
	if (strcmp(me, "a") == 0 && find_dev(VID_VSOCK, 0)) {
		int ls = vsock_listen(1235), ls2 = vsock_listen(1236);

		if (ls >= 0 && fork() == 0) {
			char got[256];
			unsigned int peer = 0;

			vsock_serve_one(ls, 600000, got, sizeof(got), &peer);
			if (ls2 >= 0)
				vsock_serve_shutrd(ls2, 60000);
			_exit(0);
		}
		if (ls >= 0)
			close(ls);
		if (ls2 >= 0)
			close(ls2);
	}
	if (!v || !v->net[0]) {
		result("AVP-NET-2", "FAIL", "VM %s: no network interface", me);
		return;
	}
	{
		struct ev e = { 0 };
		char why[256] = "";
		bool car = net_up(v, self ? self : "fe80::2", &e);
		/* The other VM may boot much later when the host is slow. */
		bool ok = car && ping6(peer ? peer : "fe80::1", v->net, 300, why, sizeof(why));

		result("AVP-NET-2", ok ? "PASS" : "FAIL", "VM %s (%s) %s VM at %s over %s%s%s", me, self ? self : "?",
		       ok ? "pinged the other" : "could NOT ping the other", peer ? peer : "?", v->net,
		       car ? "" : " (no carrier)", ok ? "" : why);
	}
	/* AVP-VSOCK-2: a stream to the peer VM's CID (the host passes it). */
	if (strcmp(me, "b") == 0 && find_dev(VID_VSOCK, 0) && param("peercid")) {
		char why[400], tok[128];
		unsigned int pc = (unsigned int)atoi(param("peercid"));
		bool ok;

		/* One try: b's ping just showed that a is up, and a listened
		 * before it configured its address. */
		snprintf(tok, sizeof(tok), "AVPCONF-VSOCK-G2G-%s\n", nonce);
		ok = vsock_exchange(pc, 1235, tok, 5, why, sizeof(why));
		/* Shutdown both ways: b's SHUT_WR and a's close above; a's
		 * SHUT_RD here (b's send must fail with EPIPE). */
		if (ok) {
			char why2[200];

			ok = vsock_check_shutrd(pc, 1236, why2, sizeof(why2));
			snprintf(why + strlen(why), sizeof(why) - strlen(why), "; %s", why2);
		}
		result("AVP-VSOCK-2", ok ? "PASS" : "FAIL", "VM b (CID %d) to VM a: %s", vsock_cid(), why);
	}
}

/* Role a: stays up, proves it keeps working while the other VMs crash or
 * reboot, and waits for the host's graceful shutdown request. */
static int role_a(void)
{
	struct pollfd pf[8];
	int nbtn;
	struct vdev *disk = disk_by_sig("AVPCONF-PAIR-a");

	pair_common("a");
	nbtn = open_power_buttons(pf, 8);
	info("power_buttons", "%d input device(s) with KEY_POWER", nbtn);
	mark("pair-ready");
	for (int beat = 1; beat <= 900; beat++) {
		unsigned char r[16];
		struct ev e = { 0 };
		bool ok = rng_read(r, sizeof(r)) || !find_dev(VID_RNG, 0);

		/* Each heartbeat does real device I/O, so "still working" means
		 * more than "the vCPU still runs". */
		if (disk)
			ok = blk_rw(disk, MiB, 4096, nonce_seed((uint64_t)beat), &e) && ok;
		mark("heartbeat %d %s", beat, ok ? "ok" : "FAILED");
		if (power_pressed(pf, nbtn, 1000)) {
			mark("power-button");
			return 0;
		}
	}
	mark("no-power-button");
	return 0;
}

/* Role b: flushes a token to its durable disk, says so, and waits to be
 * killed by the host. */
static int role_b(void)
{
	struct vdev *d;
	char *tok = aligned(4096);
	int fd;

	pair_common("b");
	d = disk_by_sig("AVPCONF-DURABLE");
	if (!d || !tok) {
		mark("durable-missing");
		return 1;
	}
	info("durable_flush", "VIRTIO_BLK_F_FLUSH %s on %s",
	     has_bit(d->feat, BLK_F_FLUSH) ? "negotiated" : "NOT negotiated", d->blk);
	/* The host attaches its sync-call tracer to the hypervisor now, and
	 * says go at 64 KiB of this disk. */
	mark("durable-ready");
	if (!wait_go_on(d, 64 * 1024, "flush", 120)) {
		mark("durable-no-go");
		return 1;
	}
	memset(tok, 0, 4096);
	snprintf(tok, 4096, "AVPCONF-DURABLE-TOKEN-%s", nonce);
	fd = blk_open(d, O_RDWR | O_DIRECT);
	/* O_DIRECT puts the data in the device; fsync() then sends the FLUSH. */
	if (fd < 0 || pwrite(fd, tok, 4096, 8192) != 4096 || fsync(fd) < 0) {
		mark("durable-write-failed %s", strerror(errno));
		return 1;
	}
	close(fd);
	mark("durable-flushed");
	msleep(120 * 1000);
	mark("durable-not-killed");
	return 0;
}

/* Role d: arm the hypervisor watchdog, feed it, then starve it. */
static int role_d(void)
{
	char ident[160];
	int fd, t = 3;

	/* AVP-VSOCK-2, the other half: d is not linked with a, so a stream
	 * to a's CID must not get through. */
	if (find_dev(VID_VSOCK, 0) && param("peercid")) {
		char why[200], tok[128];
		bool ok;

		snprintf(tok, sizeof(tok), "AVPCONF-VSOCK-UNLINKED-%s\n", nonce);
		ok = vsock_exchange((unsigned int)atoi(param("peercid")), 1235, tok, 5, why, sizeof(why));
		result("AVP-VSOCK-2", ok ? "FAIL" : "PASS", "VM d (CID %d), not linked with VM a, %s: %s", vsock_cid(),
		       ok ? "REACHED it" : "could not reach it", why);
	}
	if (!find_watchdog(ident, sizeof(ident))) {
		result("AVP-WDT-1", "FAIL", "role d: no hypervisor watchdog found");
		return 1;
	}
	fd = open("/dev/watchdog", O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		result("AVP-WDT-1", "FAIL", "%s: open /dev/watchdog: %s", ident, strerror(errno));
		return 1;
	}
	ioctl(fd, WDIOC_SETTIMEOUT, &t);
	for (int i = 0; i < 4; i++) {
		if (ioctl(fd, WDIOC_KEEPALIVE, 0) < 0) {
			result("AVP-WDT-1", "FAIL", "%s: WDIOC_KEEPALIVE: %s", ident, strerror(errno));
			return 1;
		}
		msleep(1000);
	}
	result("AVP-WDT-1", "PASS", "%s armed with a %d s timeout and fed 4 times by the standard driver (expiry is judged by the host)",
	       ident, t);
	mark("watchdog-starving");
	msleep(60 * 1000);
	mark("watchdog-did-not-fire");
	return 0;
}

/* ------------------------------------------------------------------- main */

int main(int argc, char **argv)
{
	const char *n;

	(void)argv;
	/* AVP_AGENT_CMDLINE stands in for /proc/cmdline when trying the
	 * agent outside a guest. */
	if (getenv("AVP_AGENT_CMDLINE"))
		snprintf(cmdline, sizeof(cmdline), "%s", getenv("AVP_AGENT_CMDLINE"));
	else
		read_text("/proc/cmdline", cmdline, sizeof(cmdline));
	role = param("role");
	if (argc > 1 || !role) {
		printf("avp_agent: the guest half of conformance/conform; it runs when the kernel command line\n"
		       "has avp.test=conform avp.conform.role=main|a|b|d (see conformance/guest/avp_agent.c)\n");
		return 0;
	}
	/* The agent unbinds drivers and reconfigures NICs: refuse to do that
	 * anywhere but the reference guest (mkguest writes /etc/issue). */
	{
		char issue[128] = "";

		read_text("/etc/issue", issue, sizeof(issue));
		if (strncmp(issue, "avp reference guest", 19) != 0 && !getenv("AVP_AGENT_ANYWHERE")) {
			printf("avp_agent: not in the avp reference guest (/etc/issue); set AVP_AGENT_ANYWHERE=1 to force\n");
			return 2;
		}
	}
	n = param("nonce");
	if (n)
		snprintf(nonce, sizeof(nonce), "%s", n);
	{
		int fd = open("/dev/hvc0", O_WRONLY | O_NOCTTY | O_CLOEXEC);

		if (fd >= 0) {
			printf("AVP-MARK %s results-on-hvc0\n", nonce);
			fflush(stdout);
			out_fd = fd;
		}
	}
	t_start = now_mono();
	scan();
	print_inventory();
	{
		char up[64] = "";

		read_text("/proc/uptime", up, sizeof(up));
		up[strcspn(up, " ")] = '\0';
		mark("agent-start role=%s uptime=%s", role, up);
	}

	if (strcmp(role, "main") == 0) {
		interactive = !param("interactive") || strcmp(param("interactive"), "0") != 0;
		check_boot();
		check_transport_static();
		check_blk();
		check_net();
		check_rng();
		check_console();
		check_vsock();
		check_media();
		check_misc();
		check_watchdog_presence();
		check_transport_dynamic();
		check_ring_features();
		mark("agent-done after %.1f s", now_mono() - t_start);
		/* The main VM ends with a guest reboot (AVP-PM-1; power-off is
		 * what VM a does on the host's shutdown request). */
		mark("rebooting");
		sync();
		msleep(300);
		reboot(RB_AUTOBOOT);
		return 1;
	}
	if (strcmp(role, "a") == 0)
		return role_a();
	if (strcmp(role, "b") == 0)
		return role_b();
	if (strcmp(role, "d") == 0)
		return role_d();
	printf("avp_agent: unknown role '%s'\n", role);
	return 2;
}
