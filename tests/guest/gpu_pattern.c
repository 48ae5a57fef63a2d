/* Guest side of tests/realguest/gpu.sh: draws known patterns on the
 * virtio-gpu display through DRM dumb buffers (the same path a compositor
 * takes: RESOURCE_CREATE_2D, ATTACH_BACKING, SET_SCANOUT, TRANSFER_TO_HOST_2D,
 * RESOURCE_FLUSH), and waits while the host takes screenshots.
 *
 *   gpu_pattern W H HOLD_S [CONTROL_DISK]
 *
 * 1. Checks that the connector's preferred mode is W x H (from the EDID
 *    and display info), sets it with a fresh XRGB8888 dumb buffer showing
 *    four quadrants: red, green (top), blue, white (bottom); prints
 *    "GPU-PATTERN-1 WxH" and waits until the control disk starts with
 *    "next" (the host writes it into the image once it has its
 *    screenshot), or HOLD_S seconds.
 * 2. Paints a magenta box at an odd offset in the red quadrant and flushes
 *    only that rectangle (DIRTYFB with a clip: a partial transfer with a
 *    non-zero offset); prints "GPU-PATTERN-2 X Y W H" and waits for "done"
 *    or HOLD_S seconds. Closing the device then gives the display back
 *    to the kernel's console.
 *
 * A disk rather than the serial line carries the go-aheads: it needs no
 * terminal set-up on either side, and reading it with O_DIRECT always
 * reaches the host's file.
 *
 * Static, libc only: the DRM structures and ioctl numbers below are the
 * kernel's stable UAPI (include/uapi/drm/drm.h, drm_mode.h). */
#define _GNU_SOURCE /* O_DIRECT */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

struct drm_mode_modeinfo {
	uint32_t clock;
	uint16_t hdisplay, hsync_start, hsync_end, htotal, hskew;
	uint16_t vdisplay, vsync_start, vsync_end, vtotal, vscan;
	uint32_t vrefresh;
	uint32_t flags;
	uint32_t type;
	char name[32];
};

struct drm_mode_card_res {
	uint64_t fb_id_ptr, crtc_id_ptr, connector_id_ptr, encoder_id_ptr;
	uint32_t count_fbs, count_crtcs, count_connectors, count_encoders;
	uint32_t min_width, max_width, min_height, max_height;
};

struct drm_mode_get_connector {
	uint64_t encoders_ptr, modes_ptr, props_ptr, prop_values_ptr;
	uint32_t count_modes, count_props, count_encoders;
	uint32_t encoder_id, connector_id, connector_type, connector_type_id;
	uint32_t connection, mm_width, mm_height, subpixel, pad;
};

struct drm_mode_get_encoder {
	uint32_t encoder_id, encoder_type, crtc_id, possible_crtcs, possible_clones;
};

struct drm_mode_crtc {
	uint64_t set_connectors_ptr;
	uint32_t count_connectors;
	uint32_t crtc_id, fb_id, x, y, gamma_size, mode_valid;
	struct drm_mode_modeinfo mode;
};

struct drm_mode_create_dumb {
	uint32_t height, width, bpp, flags, handle, pitch;
	uint64_t size;
};

struct drm_mode_map_dumb {
	uint32_t handle, pad;
	uint64_t offset;
};

struct drm_mode_fb_cmd {
	uint32_t fb_id, width, height, pitch, bpp, depth, handle;
};

struct drm_clip_rect {
	uint16_t x1, y1, x2, y2;
};

struct drm_mode_fb_dirty_cmd {
	uint32_t fb_id, flags, color, num_clips;
	uint64_t clips_ptr;
};

_Static_assert(sizeof(struct drm_mode_modeinfo) == 68, "modeinfo");
_Static_assert(sizeof(struct drm_mode_card_res) == 64, "card_res");
_Static_assert(sizeof(struct drm_mode_get_connector) == 80, "get_connector");
_Static_assert(sizeof(struct drm_mode_crtc) == 104, "crtc");
_Static_assert(sizeof(struct drm_mode_create_dumb) == 32, "create_dumb");
_Static_assert(sizeof(struct drm_mode_fb_dirty_cmd) == 24, "fb_dirty_cmd");

#define DRM_IOWR_(nr, type) _IOWR('d', nr, type)
#define DRM_IOCTL_SET_MASTER _IO('d', 0x1e)
#define DRM_IOCTL_MODE_GETRESOURCES DRM_IOWR_(0xA0, struct drm_mode_card_res)
#define DRM_IOCTL_MODE_SETCRTC DRM_IOWR_(0xA2, struct drm_mode_crtc)
#define DRM_IOCTL_MODE_GETENCODER DRM_IOWR_(0xA6, struct drm_mode_get_encoder)
#define DRM_IOCTL_MODE_GETCONNECTOR DRM_IOWR_(0xA7, struct drm_mode_get_connector)
#define DRM_IOCTL_MODE_ADDFB DRM_IOWR_(0xAE, struct drm_mode_fb_cmd)
#define DRM_IOCTL_MODE_DIRTYFB DRM_IOWR_(0xB1, struct drm_mode_fb_dirty_cmd)
#define DRM_IOCTL_MODE_CREATE_DUMB DRM_IOWR_(0xB2, struct drm_mode_create_dumb)
#define DRM_IOCTL_MODE_MAP_DUMB DRM_IOWR_(0xB3, struct drm_mode_map_dumb)
#define DRM_MODE_TYPE_PREFERRED (1 << 3)
#define DRM_MODE_CONNECTED 1

static int fail;

#define OK(...) (printf("gpu-pattern: ok - " __VA_ARGS__), putchar('\n'), fflush(stdout))
#define NOTOK(...) (printf("gpu-pattern: not ok - " __VA_ARGS__), putchar('\n'), fflush(stdout), fail = 1)

static int xioctl(int fd, unsigned long req, void *arg)
{
	int r;

	do {
		r = ioctl(fd, req, arg);
	} while (r < 0 && (errno == EINTR || errno == EAGAIN));
	return r;
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (!p) {
		perror("gpu-pattern: calloc");
		exit(1);
	}
	return p;
}

/* Waits until the control disk (fd ctl, or none: -1) starts with word,
 * at most timeout_s. */
static void wait_for(int ctl, const char *word, int timeout_s)
{
	static uint8_t *buf;
	time_t end = time(NULL) + timeout_s;

	if (ctl >= 0 && !buf && posix_memalign((void **)&buf, 4096, 4096))
		buf = NULL;
	while (time(NULL) < end) {
		/* O_DIRECT: every read goes to the device, not the page cache. */
		if (ctl >= 0 && buf && pread(ctl, buf, 4096, 0) == 4096 &&
		    memcmp(buf, word, strlen(word)) == 0)
			return;
		usleep(100 * 1000);
	}
	printf("gpu-pattern: no '%s' from the host after %d s, going on\n", word, timeout_s);
}

static int open_card(void)
{
	for (int i = 0; i < 100; i++) {
		int fd = open("/dev/dri/card0", O_RDWR | O_CLOEXEC);

		if (fd >= 0)
			return fd;
		usleep(100 * 1000);
	}
	return -1;
}

int main(int argc, char **argv)
{
	struct drm_mode_card_res res;
	struct drm_mode_get_connector conn;
	struct drm_mode_modeinfo *modes, mode;
	struct drm_mode_get_encoder enc;
	struct drm_mode_create_dumb dumb;
	struct drm_mode_map_dumb map;
	struct drm_mode_fb_cmd fbc;
	struct drm_mode_crtc crtc;
	struct drm_mode_fb_dirty_cmd dirty;
	struct drm_clip_rect clip;
	uint32_t *conns, *crtcs, *encs, conn_id = 0, crtc_id = 0;
	uint32_t want_w, want_h, bx, by, bw, bh;
	int hold, fd, ctl = -1, preferred = -1;
	uint8_t *px;

	if (argc != 4 && argc != 5) {
		fprintf(stderr, "usage: gpu_pattern W H HOLD_S [CONTROL_DISK]\n");
		return 2;
	}
	want_w = (uint32_t)atoi(argv[1]);
	want_h = (uint32_t)atoi(argv[2]);
	hold = atoi(argv[3]);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 5) {
		ctl = open(argv[4], O_RDONLY | O_DIRECT | O_CLOEXEC);
		if (ctl < 0)
			printf("gpu-pattern: cannot open %s (%s): holding each picture %d s\n",
			       argv[4], strerror(errno), hold);
	}

	fd = open_card();
	if (fd < 0) {
		NOTOK("cannot open /dev/dri/card0: %s", strerror(errno));
		return 1;
	}
	/* Root opening a card with no master becomes master; say so anyway. */
	if (xioctl(fd, DRM_IOCTL_SET_MASTER, NULL) < 0 && errno != EBUSY)
		printf("gpu-pattern: SET_MASTER: %s\n", strerror(errno));

	memset(&res, 0, sizeof(res));
	if (xioctl(fd, DRM_IOCTL_MODE_GETRESOURCES, &res) < 0 || !res.count_connectors ||
	    !res.count_crtcs) {
		NOTOK("no KMS resources (%s)", strerror(errno));
		return 1;
	}
	conns = xcalloc(res.count_connectors, 4);
	crtcs = xcalloc(res.count_crtcs, 4);
	encs = xcalloc(res.count_encoders, 4);
	res.count_fbs = 0;
	res.connector_id_ptr = (uintptr_t)conns;
	res.crtc_id_ptr = (uintptr_t)crtcs;
	res.encoder_id_ptr = (uintptr_t)encs;
	if (xioctl(fd, DRM_IOCTL_MODE_GETRESOURCES, &res) < 0) {
		NOTOK("GETRESOURCES: %s", strerror(errno));
		return 1;
	}
	conn_id = conns[0];

	/* First call probes and counts, second fetches the modes. */
	memset(&conn, 0, sizeof(conn));
	conn.connector_id = conn_id;
	if (xioctl(fd, DRM_IOCTL_MODE_GETCONNECTOR, &conn) < 0 || !conn.count_modes) {
		NOTOK("connector %u has no modes (%s)", conn_id, strerror(errno));
		return 1;
	}
	modes = xcalloc(conn.count_modes, sizeof(*modes));
	conn.modes_ptr = (uintptr_t)modes;
	conn.count_props = 0;
	conn.count_encoders = 0;
	if (xioctl(fd, DRM_IOCTL_MODE_GETCONNECTOR, &conn) < 0) {
		NOTOK("GETCONNECTOR: %s", strerror(errno));
		return 1;
	}
	if (conn.connection == DRM_MODE_CONNECTED)
		OK("connector %u is connected", conn_id);
	else
		NOTOK("connector %u: connection state %u", conn_id, conn.connection);
	for (uint32_t i = 0; i < conn.count_modes; i++)
		if ((modes[i].type & DRM_MODE_TYPE_PREFERRED) && preferred < 0)
			preferred = (int)i;
	mode = modes[preferred >= 0 ? preferred : 0];
	printf("gpu-pattern: %u modes, preferred %ux%u@%u (%s), physical %ux%u mm\n",
	       conn.count_modes, mode.hdisplay, mode.vdisplay, mode.vrefresh,
	       preferred >= 0 ? "flagged" : "first", conn.mm_width, conn.mm_height);
	if (mode.hdisplay == want_w && mode.vdisplay == want_h)
		OK("preferred mode is the configured %ux%u", want_w, want_h);
	else
		NOTOK("preferred mode %ux%u, configured %ux%u", mode.hdisplay, mode.vdisplay,
		      want_w, want_h);

	if (conn.encoder_id) {
		memset(&enc, 0, sizeof(enc));
		enc.encoder_id = conn.encoder_id;
		if (xioctl(fd, DRM_IOCTL_MODE_GETENCODER, &enc) == 0)
			crtc_id = enc.crtc_id;
	}
	if (!crtc_id)
		crtc_id = crtcs[0];

	memset(&dumb, 0, sizeof(dumb));
	dumb.width = mode.hdisplay;
	dumb.height = mode.vdisplay;
	dumb.bpp = 32;
	if (xioctl(fd, DRM_IOCTL_MODE_CREATE_DUMB, &dumb) < 0) {
		NOTOK("CREATE_DUMB %ux%u: %s", dumb.width, dumb.height, strerror(errno));
		return 1;
	}
	memset(&fbc, 0, sizeof(fbc));
	fbc.width = dumb.width;
	fbc.height = dumb.height;
	fbc.pitch = dumb.pitch;
	fbc.bpp = 32;
	fbc.depth = 24; /* XRGB8888 */
	fbc.handle = dumb.handle;
	if (xioctl(fd, DRM_IOCTL_MODE_ADDFB, &fbc) < 0) {
		NOTOK("ADDFB: %s", strerror(errno));
		return 1;
	}
	memset(&map, 0, sizeof(map));
	map.handle = dumb.handle;
	if (xioctl(fd, DRM_IOCTL_MODE_MAP_DUMB, &map) < 0) {
		NOTOK("MAP_DUMB: %s", strerror(errno));
		return 1;
	}
	px = mmap(NULL, dumb.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)map.offset);
	if (px == MAP_FAILED) {
		NOTOK("mmap of the dumb buffer: %s", strerror(errno));
		return 1;
	}

	/* Pattern 1: XRGB8888 words, 0x00RRGGBB. */
	for (uint32_t y = 0; y < dumb.height; y++) {
		uint32_t *row = (uint32_t *)(px + (size_t)y * dumb.pitch);

		for (uint32_t x = 0; x < dumb.width; x++) {
			int q = (y >= dumb.height / 2) * 2 + (x >= dumb.width / 2);
			static const uint32_t colour[4] = { 0xff0000, 0x00ff00, 0x0000ff, 0xffffff };

			row[x] = colour[q];
		}
	}
	memset(&crtc, 0, sizeof(crtc));
	crtc.crtc_id = crtc_id;
	crtc.fb_id = fbc.fb_id;
	crtc.set_connectors_ptr = (uintptr_t)&conn_id;
	crtc.count_connectors = 1;
	crtc.mode = mode;
	crtc.mode_valid = 1;
	if (xioctl(fd, DRM_IOCTL_MODE_SETCRTC, &crtc) < 0) {
		NOTOK("SETCRTC: %s", strerror(errno));
		return 1;
	}
	OK("mode set with a %ux%u dumb buffer (pitch %u)", dumb.width, dumb.height, dumb.pitch);
	/* The mode set flushed the whole buffer; give it a moment to land. */
	usleep(300 * 1000);
	printf("GPU-PATTERN-1 %ux%u\n", dumb.width, dumb.height);
	wait_for(ctl, "next", hold);

	/* Pattern 2: a magenta box at odd coordinates, flushed alone. */
	bx = dumb.width / 8 + 1;
	by = dumb.height / 8 + 1;
	bw = dumb.width / 4 + 3;
	bh = dumb.height / 4 + 5;
	for (uint32_t y = by; y < by + bh; y++) {
		uint32_t *row = (uint32_t *)(px + (size_t)y * dumb.pitch);

		for (uint32_t x = bx; x < bx + bw; x++)
			row[x] = 0xff00ff;
	}
	clip = (struct drm_clip_rect){ (uint16_t)bx, (uint16_t)by, (uint16_t)(bx + bw),
				       (uint16_t)(by + bh) };
	memset(&dirty, 0, sizeof(dirty));
	dirty.fb_id = fbc.fb_id;
	dirty.num_clips = 1;
	dirty.clips_ptr = (uintptr_t)&clip;
	if (xioctl(fd, DRM_IOCTL_MODE_DIRTYFB, &dirty) < 0)
		NOTOK("DIRTYFB: %s", strerror(errno));
	else
		OK("flushed the box %ux%u+%u+%u alone", bw, bh, bx, by);
	usleep(300 * 1000);
	printf("GPU-PATTERN-2 %u %u %u %u\n", bx, by, bw, bh);
	wait_for(ctl, "done", hold);

	munmap(px, dumb.size);
	close(fd);
	return fail;
}
