/* virtio-sound against the pretend driver: control requests, the PCM
 * lifecycle, hostile lengths and ids, output frames landing in the WAV at
 * real-time pace, input frames coming from a WAV, the per-stream cap, and
 * --sound on the command line. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "avp/cli.h"
#include "avp/devices/virtio_snd.h"
#include "support/vq_harness.h"

#define SND(c) ((const struct avp_sound_cfg *)avp_config_device(&(c), &virtio_snd_config, 0))

#define QSIZE 128
#define IN_FRAMES 1000
#define OUT 0 /* stream ids */
#define IN 1

struct fixture {
	struct vq_harness h; /* first: dev->transport points here */
	struct virtio_dev *dev;
	int fds[8]; /* fds the device watches */
	unsigned int nfds;
	char dir[64];
	char out_path[96];
	char in_path[96];
};

static int spy_watch(struct virtio_dev *dev, int fd, uint32_t events)
{
	struct fixture *f = (struct fixture *)dev->transport;

	(void)events;
	for (unsigned int i = 0; i < f->nfds; i++)
		if (f->fds[i] == fd)
			return 0;
	assert_true(f->nfds < 8);
	f->fds[f->nfds++] = fd;
	return 0;
}

static int spy_unwatch(struct virtio_dev *dev, int fd)
{
	struct fixture *f = (struct fixture *)dev->transport;

	for (unsigned int i = 0; i < f->nfds; i++)
		if (f->fds[i] == fd)
			f->fds[i] = f->fds[--f->nfds];
	return 0;
}

static int16_t in_sample(unsigned int i)
{
	return (int16_t)(i * 37 - 12000);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

/* A 48 kHz S16 mono WAV holding in_sample(0 .. IN_FRAMES). */
static void write_in_wav(const char *path)
{
	uint8_t h[44];
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	memcpy(h, "RIFF", 4);
	put32(h + 4, 36 + IN_FRAMES * 2);
	memcpy(h + 8, "WAVEfmt ", 8);
	put32(h + 16, 16);
	put16(h + 20, 1);
	put16(h + 22, 1);
	put32(h + 24, 48000);
	put32(h + 28, 96000);
	put16(h + 32, 2);
	put16(h + 34, 16);
	memcpy(h + 36, "data", 4);
	put32(h + 40, IN_FRAMES * 2);
	assert_int_equal(fwrite(h, 1, 44, fp), 44);
	for (unsigned int i = 0; i < IN_FRAMES; i++) {
		uint8_t s[2];

		put16(s, (uint16_t)in_sample(i));
		assert_int_equal(fwrite(s, 1, 2, fp), 2);
	}
	fclose(fp);
}

static int setup_with(void **state, bool with_in)
{
	static struct fixture f;
	struct avp_sound_cfg cfg = { 0 };

	memset(&f, 0, sizeof(f));
	strcpy(f.dir, "/tmp/avp-snd-test.XXXXXX");
	assert_non_null(mkdtemp(f.dir));
	snprintf(f.out_path, sizeof(f.out_path), "%s/out.wav", f.dir);
	snprintf(f.in_path, sizeof(f.in_path), "%s/in.wav", f.dir);
	write_in_wav(f.in_path);
	cfg.out_path = f.out_path;
	cfg.in_path = with_in ? f.in_path : NULL;

	vqh_init(&f.h, 8 << 20);
	assert_int_equal(virtio_snd_create(&f.dev, &cfg), 0);
	vqh_attach(&f.h, f.dev, true, true);
	vqh_set_watch(&f.h, f.dev, spy_watch, spy_unwatch);
	for (uint16_t q = 0; q < VIRTIO_SND_NUM_QUEUES; q++)
		vqh_setup_queue(&f.h, f.dev, q, QSIZE);
	assert_int_equal(vqh_activate(&f.h, f.dev), 0);
	*state = &f;
	return 0;
}

static int setup(void **state)
{
	return setup_with(state, true);
}

static int setup_no_input(void **state)
{
	return setup_with(state, false);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	if (f->dev)
		f->dev->ops->destroy(f->dev);
	vqh_free(&f->h);
	unlink(f->out_path);
	unlink(f->in_path);
	rmdir(f->dir);
	return 0;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Runs the device's watched fds (timers, self-kick) for up to ms. */
static void pump(struct fixture *f, int ms)
{
	struct pollfd p[8];
	unsigned int n = f->nfds;

	for (unsigned int i = 0; i < n; i++)
		p[i] = (struct pollfd){ .fd = f->fds[i], .events = POLLIN };
	if (poll(p, n, ms) <= 0)
		return;
	for (unsigned int i = 0; i < n; i++) {
		if (!(p[i].revents & POLLIN))
			continue;
		pthread_mutex_lock(&f->dev->lock);
		f->dev->ops->fd_ready(f->dev, p[i].fd, EPOLLIN);
		pthread_mutex_unlock(&f->dev->lock);
	}
}

/* Next completion on q within timeout_ms, pumping the device meanwhile. */
static bool wait_used(struct fixture *f, uint16_t q, uint32_t *id, uint32_t *len, int timeout_ms)
{
	uint64_t end = mono_ms() + (uint64_t)timeout_ms;

	for (;;) {
		uint64_t now;

		if (vqh_used(&f->h, f->dev, q, id, len))
			return true;
		now = mono_ms();
		if (now >= end)
			return false;
		pump(f, (int)(end - now));
	}
}

/* ---- control requests ---- */

/* Sends a request and returns the response's status code; *used gets the
 * used length. resp (if given) receives the response. */
static uint32_t ctl_raw(struct fixture *f, const void *req, uint32_t req_len, void *resp,
			uint32_t resp_len, uint32_t *used)
{
	uint64_t rq = vqh_alloc(&f->h, req_len ? req_len : 1);
	uint64_t rs = vqh_alloc(&f->h, resp_len ? resp_len : 1);
	struct vqh_buf b[2] = { { rq, req_len, false }, { rs, resp_len, true } };
	uint32_t id, len, code;
	uint16_t head;

	memcpy(vqh_hva(&f->h, rq), req, req_len);
	memset(vqh_hva(&f->h, rs), 0xee, resp_len);
	head = vqh_post(&f->h, f->dev, VIRTIO_SND_CONTROLQ, b, 2);
	vqh_kick(&f->h, f->dev, VIRTIO_SND_CONTROLQ);
	assert_true(vqh_used(&f->h, f->dev, VIRTIO_SND_CONTROLQ, &id, &len));
	assert_int_equal(id, head);
	if (used)
		*used = len;
	if (resp)
		memcpy(resp, vqh_hva(&f->h, rs), resp_len);
	memcpy(&code, vqh_hva(&f->h, rs), sizeof(code));
	return len >= 4 ? code : 0;
}

static uint32_t query(struct fixture *f, uint32_t code, uint32_t start, uint32_t count,
		      uint32_t size, void *resp, uint32_t resp_len, uint32_t *used)
{
	struct virtio_snd_query_info q = { { code }, start, count, size };

	return ctl_raw(f, &q, sizeof(q), resp, resp_len, used);
}

static uint32_t set_params(struct fixture *f, uint32_t stream, uint8_t format, uint8_t rate,
			   uint8_t channels, uint32_t buffer, uint32_t period)
{
	struct virtio_snd_pcm_set_params p = {
		.hdr = { { VIRTIO_SND_R_PCM_SET_PARAMS }, stream },
		.buffer_bytes = buffer,
		.period_bytes = period,
		.channels = channels,
		.format = format,
		.rate = rate,
	};

	return ctl_raw(f, &p, sizeof(p), NULL, 4, NULL);
}

static uint32_t cmd(struct fixture *f, uint32_t code, uint32_t stream)
{
	struct virtio_snd_pcm_hdr h = { { code }, stream };

	return ctl_raw(f, &h, sizeof(h), NULL, 4, NULL);
}

/* 48 kHz S16 mono, 10 ms periods (480 frames, 960 bytes). */
static void prepare_mono48(struct fixture *f, uint32_t stream)
{
	assert_int_equal(set_params(f, stream, VIRTIO_SND_PCM_FMT_S16, VIRTIO_SND_PCM_RATE_48000, 1,
				    4 * 960, 960),
			 VIRTIO_SND_S_OK);
	assert_int_equal(cmd(f, VIRTIO_SND_R_PCM_PREPARE, stream), VIRTIO_SND_S_OK);
}

static void test_identity(void **state)
{
	struct fixture *f = *state;
	struct virtio_snd_config c;

	assert_int_equal(f->dev->ops->device_id, 25);
	assert_int_equal(f->dev->ops->num_queues, 4);
	assert_int_equal(f->dev->config_len, sizeof(c));
	memcpy(&c, f->dev->config, sizeof(c));
	assert_int_equal(c.jacks, 0);
	assert_int_equal(c.streams, 2);
	assert_int_equal(c.chmaps, 2);
	assert_int_equal(f->dev->ops->features(f->dev), 0);
}

static void test_pcm_info(void **state)
{
	struct fixture *f = *state;
	uint8_t resp[4 + 2 * 32 + 8];
	struct virtio_snd_pcm_info info[2];
	uint32_t used;

	assert_int_equal(query(f, VIRTIO_SND_R_PCM_INFO, 0, 2, 32, resp, sizeof(resp), &used),
			 VIRTIO_SND_S_OK);
	assert_int_equal(used, 4 + 2 * 32);
	memcpy(info, resp + 4, sizeof(info));
	for (int i = 0; i < 2; i++) {
		assert_int_equal(info[i].hdr.hda_fn_nid, 0);
		assert_int_equal(info[i].features, 0);
		assert_true(info[i].formats & (1ull << VIRTIO_SND_PCM_FMT_S16));
		assert_true(info[i].rates & (1ull << VIRTIO_SND_PCM_RATE_44100));
		assert_true(info[i].rates & (1ull << VIRTIO_SND_PCM_RATE_48000));
		assert_int_equal(info[i].channels_min, 1);
		assert_int_equal(info[i].channels_max, 2);
		for (int p = 0; p < 5; p++)
			assert_int_equal(info[i].padding[p], 0);
		/* Only defined formats (<= IEC958_SUBFRAME) and rates. */
		assert_int_equal(info[i].formats >> (VIRTIO_SND_PCM_FMT_IEC958_SUBFRAME + 1), 0);
		assert_int_equal(info[i].rates >> (VIRTIO_SND_PCM_RATE_384000 + 1), 0);
	}
	assert_int_equal(info[0].direction, VIRTIO_SND_D_OUTPUT);
	assert_int_equal(info[1].direction, VIRTIO_SND_D_INPUT);
	/* Nothing written past the items. */
	assert_int_equal(resp[4 + 64], 0xee);

	/* One item, from id 1. */
	assert_int_equal(query(f, VIRTIO_SND_R_PCM_INFO, 1, 1, 32, resp, 36, &used),
			 VIRTIO_SND_S_OK);
	memcpy(info, resp + 4, 32);
	assert_int_equal(info[0].direction, VIRTIO_SND_D_INPUT);
}

static void test_info_item_size(void **state)
{
	struct fixture *f = *state;
	uint8_t resp[4 + 2 * 40];
	uint32_t used;

	/* An older, shorter structure: cut to 16 bytes per item. */
	assert_int_equal(query(f, VIRTIO_SND_R_PCM_INFO, 0, 2, 16, resp, 4 + 32, &used),
			 VIRTIO_SND_S_OK);
	assert_int_equal(used, 4 + 32);
	assert_int_equal(resp[4 + 16 + 4], 0); /* item 1 starts at 16: features */
	/* A newer, longer one: zero padded to 40 each. */
	assert_int_equal(query(f, VIRTIO_SND_R_PCM_INFO, 0, 2, 40, resp, sizeof(resp), &used),
			 VIRTIO_SND_S_OK);
	assert_int_equal(used, 4 + 80);
	for (int i = 32; i < 40; i++)
		assert_int_equal(resp[4 + i], 0);
	assert_int_equal(resp[4 + 40 + 24], VIRTIO_SND_D_INPUT);
}

static void test_info_hostile(void **state)
{
	struct fixture *f = *state;
	uint8_t resp[4 + 2 * 32];
	uint32_t used;

	/* Ranges past the end, including ones that wrap 32 bits. */
	assert_int_equal(query(f, VIRTIO_SND_R_PCM_INFO, 1, 2, 32, resp, sizeof(resp), &used),
			 VIRTIO_SND_S_BAD_MSG);
	assert_int_equal(used, 4);
	assert_int_equal(query(f, VIRTIO_SND_R_PCM_INFO, 0xffffffff, 2, 32, resp, sizeof(resp), NULL),
			 VIRTIO_SND_S_BAD_MSG);
	assert_int_equal(query(f, VIRTIO_SND_R_PCM_INFO, 1, 0xffffffff, 32, resp, sizeof(resp), NULL),
			 VIRTIO_SND_S_BAD_MSG);
	assert_int_equal(query(f, VIRTIO_SND_R_CHMAP_INFO, 2, 1, 24, resp, sizeof(resp), NULL),
			 VIRTIO_SND_S_BAD_MSG);
	/* Item sizes of 0 and of a gigabyte. */
	assert_int_equal(query(f, VIRTIO_SND_R_PCM_INFO, 0, 2, 0, resp, sizeof(resp), NULL),
			 VIRTIO_SND_S_BAD_MSG);
	assert_int_equal(query(f, VIRTIO_SND_R_PCM_INFO, 0, 2, 1u << 30, resp, sizeof(resp), NULL),
			 VIRTIO_SND_S_BAD_MSG);
	/* Response buffer one byte short: nothing but the status. */
	assert_int_equal(query(f, VIRTIO_SND_R_PCM_INFO, 0, 2, 32, resp, 4 + 63, &used),
			 VIRTIO_SND_S_BAD_MSG);
	assert_int_equal(used, 4);
	assert_int_equal(resp[4], 0xee);
	/* A query shorter than virtio_snd_query_info. */
	{
		uint32_t code = VIRTIO_SND_R_PCM_INFO;

		assert_int_equal(ctl_raw(f, &code, 4, NULL, sizeof(resp), NULL),
				 VIRTIO_SND_S_BAD_MSG);
	}
}

static void test_jacks_and_chmaps(void **state)
{
	struct fixture *f = *state;
	uint8_t resp[4 + 2 * 24];
	struct virtio_snd_chmap_info c[2];
	uint32_t used;

	/* No jacks: any jack id is bad; an empty query is fine. */
	assert_int_equal(query(f, VIRTIO_SND_R_JACK_INFO, 0, 1, 24, resp, sizeof(resp), NULL),
			 VIRTIO_SND_S_BAD_MSG);
	assert_int_equal(query(f, VIRTIO_SND_R_JACK_INFO, 0, 0, 24, resp, sizeof(resp), &used),
			 VIRTIO_SND_S_OK);
	assert_int_equal(used, 4);
	{
		uint32_t remap[4] = { VIRTIO_SND_R_JACK_REMAP, 0, 0, 0 };

		assert_int_equal(ctl_raw(f, remap, sizeof(remap), NULL, 4, NULL),
				 VIRTIO_SND_S_BAD_MSG);
	}
	assert_int_equal(query(f, VIRTIO_SND_R_CHMAP_INFO, 0, 2, 24, resp, sizeof(resp), &used),
			 VIRTIO_SND_S_OK);
	assert_int_equal(used, sizeof(resp));
	memcpy(c, resp + 4, sizeof(c));
	assert_int_equal(c[0].direction, VIRTIO_SND_D_OUTPUT);
	assert_int_equal(c[1].direction, VIRTIO_SND_D_INPUT);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(c[i].channels, 2);
		assert_true(c[i].channels <= VIRTIO_SND_CHMAP_MAX_SIZE);
		assert_int_equal(c[i].positions[0], VIRTIO_SND_CHMAP_FL);
		assert_int_equal(c[i].positions[1], VIRTIO_SND_CHMAP_FR);
	}
}

static void test_unknown_and_short(void **state)
{
	struct fixture *f = *state;
	uint32_t used;
	uint8_t two[2] = { 1, 1 };
	uint32_t req[4] = { 0x0300, 0, 1, 64 }; /* R_CTL_INFO: no CTLS */

	assert_int_equal(ctl_raw(f, req, sizeof(req), NULL, 64, &used), VIRTIO_SND_S_NOT_SUPP);
	assert_int_equal(used, 4);
	req[0] = 0xdeadbeef;
	assert_int_equal(ctl_raw(f, req, sizeof(req), NULL, 4, NULL), VIRTIO_SND_S_NOT_SUPP);
	/* A request shorter than its code. */
	assert_int_equal(ctl_raw(f, two, sizeof(two), NULL, 4, &used), VIRTIO_SND_S_BAD_MSG);
	/* No room for a status: completed with nothing written. */
	assert_int_equal(ctl_raw(f, req, sizeof(req), NULL, 3, &used), 0);
	assert_int_equal(used, 0);
	assert_int_equal(ctl_raw(f, req, sizeof(req), NULL, 0, &used), 0);
	assert_int_equal(used, 0);
	/* PCM commands shorter than virtio_snd_pcm_hdr. */
	req[0] = VIRTIO_SND_R_PCM_PREPARE;
	assert_int_equal(ctl_raw(f, req, 4, NULL, 4, NULL), VIRTIO_SND_S_BAD_MSG);
	req[0] = VIRTIO_SND_R_PCM_SET_PARAMS;
	assert_int_equal(ctl_raw(f, req, 16, NULL, 4, NULL), VIRTIO_SND_S_BAD_MSG);
}

static void test_set_params_validation(void **state)
{
	struct fixture *f = *state;
	const uint8_t S16 = VIRTIO_SND_PCM_FMT_S16, R48 = VIRTIO_SND_PCM_RATE_48000;

	assert_int_equal(set_params(f, OUT, S16, R48, 2, 4096, 1024), VIRTIO_SND_S_OK);
	assert_int_equal(set_params(f, IN, S16, VIRTIO_SND_PCM_RATE_44100, 1, 4096, 1024),
			 VIRTIO_SND_S_OK);
	/* Bad stream ids. */
	assert_int_equal(set_params(f, 2, S16, R48, 2, 4096, 1024), VIRTIO_SND_S_BAD_MSG);
	assert_int_equal(set_params(f, 0xffffffff, S16, R48, 2, 4096, 1024), VIRTIO_SND_S_BAD_MSG);
	/* Formats and rates not offered, or not defined at all. */
	assert_int_equal(set_params(f, OUT, VIRTIO_SND_PCM_FMT_S24, R48, 2, 4096, 1024),
			 VIRTIO_SND_S_BAD_MSG);
	assert_int_equal(set_params(f, OUT, 200, R48, 2, 4096, 1024), VIRTIO_SND_S_BAD_MSG);
	assert_int_equal(set_params(f, OUT, S16, VIRTIO_SND_PCM_RATE_5512, 2, 4096, 1024),
			 VIRTIO_SND_S_BAD_MSG);
	assert_int_equal(set_params(f, OUT, S16, 63, 2, 4096, 1024), VIRTIO_SND_S_BAD_MSG);
	assert_int_equal(set_params(f, OUT, S16, 255, 2, 4096, 1024), VIRTIO_SND_S_BAD_MSG);
	/* Channels outside 1-2. */
	assert_int_equal(set_params(f, OUT, S16, R48, 0, 4096, 1024), VIRTIO_SND_S_BAD_MSG);
	assert_int_equal(set_params(f, OUT, S16, R48, 3, 4096, 1024), VIRTIO_SND_S_BAD_MSG);
	/* Buffer and period sizes. */
	assert_int_equal(set_params(f, OUT, S16, R48, 2, 4096, 0), VIRTIO_SND_S_BAD_MSG);
	assert_int_equal(set_params(f, OUT, S16, R48, 2, 0, 1024), VIRTIO_SND_S_BAD_MSG);
	assert_int_equal(set_params(f, OUT, S16, R48, 2, 4096, 1000), VIRTIO_SND_S_BAD_MSG);
	assert_int_equal(set_params(f, OUT, S16, R48, 2, 4098, 1026), VIRTIO_SND_S_BAD_MSG);
	assert_int_equal(set_params(f, OUT, S16, R48, 2, 4096, 1022), VIRTIO_SND_S_BAD_MSG);
	assert_int_equal(set_params(f, OUT, S16, R48, 2, 2048, 4096), VIRTIO_SND_S_BAD_MSG);
	assert_int_equal(set_params(f, OUT, S16, R48, 2, VIRTIO_SND_MAX_BUFFER_BYTES * 2,
				    VIRTIO_SND_MAX_BUFFER_BYTES),
			 VIRTIO_SND_S_BAD_MSG);
	assert_int_equal(set_params(f, OUT, S16, R48, 2, 0xfffff000, 0x1000), VIRTIO_SND_S_BAD_MSG);
	/* Features we did not offer. */
	{
		struct virtio_snd_pcm_set_params p = {
			.hdr = { { VIRTIO_SND_R_PCM_SET_PARAMS }, OUT },
			.buffer_bytes = 4096, .period_bytes = 1024, .features = 1u << 2,
			.channels = 2, .format = S16, .rate = R48,
		};

		assert_int_equal(ctl_raw(f, &p, sizeof(p), NULL, 4, NULL), VIRTIO_SND_S_BAD_MSG);
	}
	/* Every offered format and rate is accepted. */
	assert_int_equal(set_params(f, OUT, VIRTIO_SND_PCM_FMT_U8, VIRTIO_SND_PCM_RATE_8000, 1,
				    1024, 256),
			 VIRTIO_SND_S_OK);
	assert_int_equal(set_params(f, OUT, VIRTIO_SND_PCM_FMT_FLOAT, VIRTIO_SND_PCM_RATE_192000, 2,
				    8192, 2048),
			 VIRTIO_SND_S_OK);
}

static void test_lifecycle(void **state)
{
	struct fixture *f = *state;

	/* Nothing before SET_PARAMS. */
	assert_int_equal(cmd(f, VIRTIO_SND_R_PCM_PREPARE, OUT), VIRTIO_SND_S_BAD_MSG);
	assert_int_equal(cmd(f, VIRTIO_SND_R_PCM_START, OUT), VIRTIO_SND_S_BAD_MSG);
	assert_int_equal(cmd(f, VIRTIO_SND_R_PCM_RELEASE, OUT), VIRTIO_SND_S_BAD_MSG);
	assert_int_equal(set_params(f, OUT, VIRTIO_SND_PCM_FMT_S16, VIRTIO_SND_PCM_RATE_48000, 2,
				    4096, 1024),
			 VIRTIO_SND_S_OK);
	assert_int_equal(cmd(f, VIRTIO_SND_R_PCM_START, OUT), VIRTIO_SND_S_BAD_MSG);
	assert_int_equal(cmd(f, VIRTIO_SND_R_PCM_STOP, OUT), VIRTIO_SND_S_BAD_MSG);
	assert_int_equal(cmd(f, VIRTIO_SND_R_PCM_PREPARE, OUT), VIRTIO_SND_S_OK);
	assert_int_equal(cmd(f, VIRTIO_SND_R_PCM_PREPARE, OUT), VIRTIO_SND_S_OK);
	assert_int_equal(cmd(f, VIRTIO_SND_R_PCM_STOP, OUT), VIRTIO_SND_S_BAD_MSG);
	assert_int_equal(cmd(f, VIRTIO_SND_R_PCM_START, OUT), VIRTIO_SND_S_OK);
	/* Running: only STOP. */
	assert_int_equal(cmd(f, VIRTIO_SND_R_PCM_START, OUT), VIRTIO_SND_S_BAD_MSG);
	assert_int_equal(cmd(f, VIRTIO_SND_R_PCM_PREPARE, OUT), VIRTIO_SND_S_BAD_MSG);
	assert_int_equal(cmd(f, VIRTIO_SND_R_PCM_RELEASE, OUT), VIRTIO_SND_S_BAD_MSG);
	assert_int_equal(set_params(f, OUT, VIRTIO_SND_PCM_FMT_S16, VIRTIO_SND_PCM_RATE_48000, 2,
				    4096, 1024),
			 VIRTIO_SND_S_BAD_MSG);
	assert_int_equal(cmd(f, VIRTIO_SND_R_PCM_STOP, OUT), VIRTIO_SND_S_OK);
	assert_int_equal(cmd(f, VIRTIO_SND_R_PCM_START, OUT), VIRTIO_SND_S_OK);
	assert_int_equal(cmd(f, VIRTIO_SND_R_PCM_STOP, OUT), VIRTIO_SND_S_OK);
	assert_int_equal(cmd(f, VIRTIO_SND_R_PCM_RELEASE, OUT), VIRTIO_SND_S_OK);
	assert_int_equal(cmd(f, VIRTIO_SND_R_PCM_START, OUT), VIRTIO_SND_S_BAD_MSG);
	assert_int_equal(cmd(f, VIRTIO_SND_R_PCM_PREPARE, OUT), VIRTIO_SND_S_OK);
	assert_int_equal(cmd(f, VIRTIO_SND_R_PCM_RELEASE, OUT), VIRTIO_SND_S_OK);
	/* The other stream's state is its own; bad ids are refused. */
	assert_int_equal(cmd(f, VIRTIO_SND_R_PCM_PREPARE, IN), VIRTIO_SND_S_BAD_MSG);
	assert_int_equal(cmd(f, VIRTIO_SND_R_PCM_PREPARE, 2), VIRTIO_SND_S_BAD_MSG);
	assert_int_equal(cmd(f, VIRTIO_SND_R_PCM_START, 0x80000000u), VIRTIO_SND_S_BAD_MSG);
}

/* ---- I/O ---- */

struct io_msg {
	uint16_t head;
	uint64_t data_gpa;
	uint64_t status_gpa;
};

/* An output message: xfer header, frames, status (three descriptors, or
 * one indirect one). */
static struct io_msg post_tx(struct fixture *f, uint32_t stream, const void *data, uint32_t len)
{
	struct io_msg m;
	uint64_t hdr = vqh_alloc(&f->h, 4);
	struct vqh_buf b[3];

	m.data_gpa = vqh_alloc(&f->h, len ? len : 1);
	m.status_gpa = vqh_alloc(&f->h, 8);
	memcpy(vqh_hva(&f->h, hdr), &stream, 4);
	memcpy(vqh_hva(&f->h, m.data_gpa), data, len);
	memset(vqh_hva(&f->h, m.status_gpa), 0xee, 8);
	b[0] = (struct vqh_buf){ hdr, 4, false };
	b[1] = (struct vqh_buf){ m.data_gpa, len, false };
	b[2] = (struct vqh_buf){ m.status_gpa, 8, true };
	m.head = vqh_post_indirect(&f->h, f->dev, VIRTIO_SND_TXQ, b, 3);
	return m;
}

/* An input message: xfer header, room for len bytes of frames, status. */
static struct io_msg post_rx(struct fixture *f, uint32_t stream, uint32_t len)
{
	struct io_msg m;
	uint64_t hdr = vqh_alloc(&f->h, 4);
	struct vqh_buf b[3];

	m.data_gpa = vqh_alloc(&f->h, len ? len : 1);
	m.status_gpa = vqh_alloc(&f->h, 8);
	memcpy(vqh_hva(&f->h, hdr), &stream, 4);
	memset(vqh_hva(&f->h, m.data_gpa), 0xee, len);
	memset(vqh_hva(&f->h, m.status_gpa), 0xee, 8);
	b[0] = (struct vqh_buf){ hdr, 4, false };
	b[1] = (struct vqh_buf){ m.data_gpa, len, true };
	b[2] = (struct vqh_buf){ m.status_gpa, 8, true };
	m.head = vqh_post_indirect(&f->h, f->dev, VIRTIO_SND_RXQ, b, 3);
	return m;
}

static struct virtio_snd_pcm_status status_of(struct fixture *f, const struct io_msg *m)
{
	struct virtio_snd_pcm_status st;

	memcpy(&st, vqh_hva(&f->h, m->status_gpa), sizeof(st));
	return st;
}

static void expect_done(struct fixture *f, uint16_t q, const struct io_msg *m, uint32_t len,
			uint32_t status, int timeout_ms)
{
	uint32_t id, got;

	assert_true(wait_used(f, q, &id, &got, timeout_ms));
	assert_int_equal(id, m->head);
	assert_int_equal(got, len);
	assert_int_equal(status_of(f, m).status, status);
}

static void fill_pcm(int16_t *buf, unsigned int n, int seed)
{
	for (unsigned int i = 0; i < n; i++)
		buf[i] = (int16_t)(seed * 1000 + (int)i * 3 - 700);
}

/* The out WAV as a byte array (caller frees). */
static uint8_t *read_file(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *buf;
	long n;

	assert_non_null(fp);
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	*len = (size_t)n;
	return buf;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static void test_tx_lands_in_wav_at_real_time(void **state)
{
	struct fixture *f = *state;
	int16_t pcm[2][480];
	struct io_msg m[2];
	uint64_t t0, t1, t2;
	uint32_t id, len;
	uint8_t *wav;
	size_t wav_len;

	prepare_mono48(f, OUT);
	fill_pcm(pcm[0], 480, 1);
	fill_pcm(pcm[1], 480, 2);
	m[0] = post_tx(f, OUT, pcm[0], sizeof(pcm[0]));
	m[1] = post_tx(f, OUT, pcm[1], sizeof(pcm[1]));
	vqh_kick(&f->h, f->dev, VIRTIO_SND_TXQ);
	/* Prepared, not started: held (pre-buffering), not consumed. */
	pump(f, 30);
	assert_false(vqh_used(&f->h, f->dev, VIRTIO_SND_TXQ, &id, &len));

	t0 = mono_ms();
	assert_int_equal(cmd(f, VIRTIO_SND_R_PCM_START, OUT), VIRTIO_SND_S_OK);
	expect_done(f, VIRTIO_SND_TXQ, &m[0], 8, VIRTIO_SND_S_OK, 2000);
	t1 = mono_ms();
	/* One more message queued behind it: 960 bytes of latency. */
	assert_int_equal(status_of(f, &m[0]).latency_bytes, 960);
	expect_done(f, VIRTIO_SND_TXQ, &m[1], 8, VIRTIO_SND_S_OK, 2000);
	t2 = mono_ms();
	assert_int_equal(status_of(f, &m[1]).latency_bytes, 0);
	/* 480 frames at 48 kHz are 10 ms each: never earlier. */
	assert_true(t1 - t0 >= 10);
	assert_true(t2 - t0 >= 20);

	assert_int_equal(cmd(f, VIRTIO_SND_R_PCM_STOP, OUT), VIRTIO_SND_S_OK);
	assert_int_equal(cmd(f, VIRTIO_SND_R_PCM_RELEASE, OUT), VIRTIO_SND_S_OK);
	/* After RELEASE the header is final. */
	wav = read_file(f->out_path, &wav_len);
	assert_int_equal(wav_len, 44 + sizeof(pcm));
	assert_memory_equal(wav, "RIFF", 4);
	assert_int_equal(get32(wav + 4), 36 + sizeof(pcm));
	assert_memory_equal(wav + 8, "WAVEfmt ", 8);
	assert_int_equal(get16(wav + 20), 1);	  /* PCM */
	assert_int_equal(get16(wav + 22), 1);	  /* mono */
	assert_int_equal(get32(wav + 24), 48000); /* rate */
	assert_int_equal(get32(wav + 28), 96000); /* byte rate */
	assert_int_equal(get16(wav + 32), 2);	  /* block align */
	assert_int_equal(get16(wav + 34), 16);	  /* bits */
	assert_memory_equal(wav + 36, "data", 4);
	assert_int_equal(get32(wav + 40), sizeof(pcm));
	assert_memory_equal(wav + 44, pcm, sizeof(pcm));
	free(wav);
}

static void test_tx_after_underrun_and_pause(void **state)
{
	struct fixture *f = *state;
	int16_t pcm[480];
	struct io_msg m;
	uint64_t t0;
	uint32_t id, len;

	prepare_mono48(f, OUT);
	assert_int_equal(cmd(f, VIRTIO_SND_R_PCM_START, OUT), VIRTIO_SND_S_OK);
	/* Running with nothing to play, then a late message: paced from its
	 * arrival, not from START. */
	pump(f, 30);
	fill_pcm(pcm, 480, 3);
	t0 = mono_ms();
	m = post_tx(f, OUT, pcm, sizeof(pcm));
	vqh_kick(&f->h, f->dev, VIRTIO_SND_TXQ);
	assert_false(vqh_used(&f->h, f->dev, VIRTIO_SND_TXQ, &id, &len));
	expect_done(f, VIRTIO_SND_TXQ, &m, 8, VIRTIO_SND_S_OK, 2000);
	assert_true(mono_ms() - t0 >= 10);

	/* Paused: a held message waits; RELEASE hands it back at once. */
	assert_int_equal(cmd(f, VIRTIO_SND_R_PCM_STOP, OUT), VIRTIO_SND_S_OK);
	m = post_tx(f, OUT, pcm, sizeof(pcm));
	vqh_kick(&f->h, f->dev, VIRTIO_SND_TXQ);
	pump(f, 40);
	assert_false(vqh_used(&f->h, f->dev, VIRTIO_SND_TXQ, &id, &len));
	assert_int_equal(cmd(f, VIRTIO_SND_R_PCM_RELEASE, OUT), VIRTIO_SND_S_OK);
	assert_true(vqh_used(&f->h, f->dev, VIRTIO_SND_TXQ, &id, &len));
	assert_int_equal(id, m.head);
	assert_int_equal(len, 8);
	assert_int_equal(status_of(f, &m).status, VIRTIO_SND_S_OK);
}

static void test_tx_hostile(void **state)
{
	struct fixture *f = *state;
	int16_t pcm[481] = { 0 }; /* one spare for the half-frame case */
	struct io_msg m;
	uint32_t id, len;

	/* Before PREPARE: refused, not held. */
	m = post_tx(f, OUT, pcm, 960);
	vqh_kick(&f->h, f->dev, VIRTIO_SND_TXQ);
	expect_done(f, VIRTIO_SND_TXQ, &m, 8, VIRTIO_SND_S_BAD_MSG, 0);

	prepare_mono48(f, OUT);
	prepare_mono48(f, IN);
	/* The input stream's id (and nonsense ones) on the tx queue. */
	m = post_tx(f, IN, pcm, 960);
	vqh_kick(&f->h, f->dev, VIRTIO_SND_TXQ);
	expect_done(f, VIRTIO_SND_TXQ, &m, 8, VIRTIO_SND_S_BAD_MSG, 0);
	m = post_tx(f, 0xffffffff, pcm, 960);
	vqh_kick(&f->h, f->dev, VIRTIO_SND_TXQ);
	expect_done(f, VIRTIO_SND_TXQ, &m, 8, VIRTIO_SND_S_BAD_MSG, 0);
	/* Half a frame, and no frames at all. */
	m = post_tx(f, OUT, pcm, 961);
	vqh_kick(&f->h, f->dev, VIRTIO_SND_TXQ);
	expect_done(f, VIRTIO_SND_TXQ, &m, 8, VIRTIO_SND_S_BAD_MSG, 0);
	m = post_tx(f, OUT, pcm, 0);
	vqh_kick(&f->h, f->dev, VIRTIO_SND_TXQ);
	expect_done(f, VIRTIO_SND_TXQ, &m, 8, VIRTIO_SND_S_BAD_MSG, 0);
	/* Bigger than one message may be. */
	{
		uint32_t big = VIRTIO_SND_MAX_IO_BYTES + 2;
		uint8_t *zero = calloc(1, big);

		m = post_tx(f, OUT, zero, big);
		free(zero);
		vqh_kick(&f->h, f->dev, VIRTIO_SND_TXQ);
		expect_done(f, VIRTIO_SND_TXQ, &m, 8, VIRTIO_SND_S_BAD_MSG, 0);
	}
	/* Header only, shorter than the header, no status room. */
	{
		uint64_t hdr = vqh_alloc(&f->h, 4), st = vqh_alloc(&f->h, 8);
		struct vqh_buf b[2] = { { hdr, 2, false }, { st, 8, true } };
		uint16_t head = vqh_post_indirect(&f->h, f->dev, VIRTIO_SND_TXQ, b, 2);

		vqh_kick(&f->h, f->dev, VIRTIO_SND_TXQ);
		assert_true(vqh_used(&f->h, f->dev, VIRTIO_SND_TXQ, &id, &len));
		assert_int_equal(id, head);
		assert_int_equal(len, 8);
		b[0].len = 4;
		b[1].len = 7;
		head = vqh_post_indirect(&f->h, f->dev, VIRTIO_SND_TXQ, b, 2);
		vqh_kick(&f->h, f->dev, VIRTIO_SND_TXQ);
		assert_true(vqh_used(&f->h, f->dev, VIRTIO_SND_TXQ, &id, &len));
		assert_int_equal(id, head);
		assert_int_equal(len, 0);
	}
	/* Nothing of this reached the WAV. */
	assert_int_equal(cmd(f, VIRTIO_SND_R_PCM_RELEASE, OUT), VIRTIO_SND_S_OK);
	{
		size_t n;
		uint8_t *wav = read_file(f->out_path, &n);

		assert_int_equal(n, 44);
		assert_int_equal(get32(wav + 40), 0);
		free(wav);
	}
}

static void test_tx_too_many_segments(void **state)
{
	struct fixture *f = *state;
	enum { NSEG = VIRTIO_SND_MAX_IO_SEGS + 1 };
	struct vqh_buf b[NSEG];
	uint32_t id, len;
	uint16_t head;
	uint32_t stream = OUT;

	prepare_mono48(f, OUT);
	b[0] = (struct vqh_buf){ vqh_alloc(&f->h, 4), 4, false };
	memcpy(vqh_hva(&f->h, b[0].gpa), &stream, 4);
	for (int i = 1; i < NSEG - 1; i++)
		b[i] = (struct vqh_buf){ vqh_alloc(&f->h, 2), 2, false };
	b[NSEG - 1] = (struct vqh_buf){ vqh_alloc(&f->h, 8), 8, true };
	head = vqh_post_indirect(&f->h, f->dev, VIRTIO_SND_TXQ, b, NSEG);
	vqh_kick(&f->h, f->dev, VIRTIO_SND_TXQ);
	assert_true(vqh_used(&f->h, f->dev, VIRTIO_SND_TXQ, &id, &len));
	assert_int_equal(id, head);
	assert_int_equal(len, 8);
}

static void test_queue_cap(void **state)
{
	struct fixture *f = *state;
	int16_t pcm[48] = { 0 };
	struct io_msg m[100];
	uint32_t id, len;
	unsigned int done = 0;

	prepare_mono48(f, OUT);
	for (int i = 0; i < 100; i++)
		m[i] = post_tx(f, OUT, pcm, sizeof(pcm));
	vqh_kick(&f->h, f->dev, VIRTIO_SND_TXQ);
	pump(f, 10);
	/* Pre-buffering holds at most the cap; nothing is completed. */
	assert_false(vqh_used(&f->h, f->dev, VIRTIO_SND_TXQ, &id, &len));
	assert_int_equal(f->dev->vqs[VIRTIO_SND_TXQ].last_avail_idx, VIRTIO_SND_MAX_QUEUED);
	/* Released: the held ones come back first, in order... */
	assert_int_equal(cmd(f, VIRTIO_SND_R_PCM_RELEASE, OUT), VIRTIO_SND_S_OK);
	while (vqh_used(&f->h, f->dev, VIRTIO_SND_TXQ, &id, &len)) {
		assert_int_equal(id, m[done].head);
		assert_int_equal(status_of(f, &m[done]).status, VIRTIO_SND_S_OK);
		done++;
	}
	assert_int_equal(done, VIRTIO_SND_MAX_QUEUED);
	/* ...and the rest, taken later, are refused (stream released). */
	vqh_kick(&f->h, f->dev, VIRTIO_SND_TXQ);
	while (vqh_used(&f->h, f->dev, VIRTIO_SND_TXQ, &id, &len)) {
		assert_int_equal(id, m[done].head);
		assert_int_equal(status_of(f, &m[done]).status, VIRTIO_SND_S_BAD_MSG);
		done++;
	}
	assert_int_equal(done, 100);
}

/* A driver has at most queue-size chains; one that makes descriptors
 * available again while the device still holds them (a hostile one) must
 * not make it hold more than the ring: the device stops taking, and a
 * driver that publishes past the ring breaks it (found by
 * fuzz_virtio_snd: 64 messages held from a 2-entry queue). */
static void test_held_messages_bounded_by_ring(void **state)
{
	struct fixture *f = *state;
	const struct virtq *vq = &f->dev->vqs[VIRTIO_SND_TXQ];
	int16_t pcm[48] = { 0 };

	vqh_setup_queue(&f->h, f->dev, VIRTIO_SND_TXQ, 8);
	prepare_mono48(f, OUT);
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 8; i++)
			post_tx(f, OUT, pcm, sizeof(pcm)); /* the second round reuses heads */
		vqh_kick(&f->h, f->dev, VIRTIO_SND_TXQ);
		assert_int_equal((uint16_t)(vq->last_avail_idx - vq->used_idx), 8);
	}
	/* A third round puts 24 chains in an 8-entry ring: once the held
	 * ones are back and the device looks again, the ring is broken. */
	for (int i = 0; i < 8; i++)
		post_tx(f, OUT, pcm, sizeof(pcm));
	vqh_kick(&f->h, f->dev, VIRTIO_SND_TXQ);
	assert_int_equal((uint16_t)(vq->last_avail_idx - vq->used_idx), 8);
	assert_false(f->dev->status & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(cmd(f, VIRTIO_SND_R_PCM_RELEASE, OUT), VIRTIO_SND_S_OK);
	assert_int_equal(vq->used_idx, vq->last_avail_idx);
	vqh_kick(&f->h, f->dev, VIRTIO_SND_TXQ);
	assert_true(f->dev->status & VIRTIO_STATUS_NEEDS_RESET);
}

static void test_rx_from_wav(void **state)
{
	struct fixture *f = *state;
	struct io_msg m[3];
	uint64_t t0;
	uint32_t id, len;
	unsigned int frame = 0;

	prepare_mono48(f, IN);
	for (int i = 0; i < 3; i++)
		m[i] = post_rx(f, IN, 960);
	vqh_kick(&f->h, f->dev, VIRTIO_SND_RXQ);
	pump(f, 20);
	assert_false(vqh_used(&f->h, f->dev, VIRTIO_SND_RXQ, &id, &len));
	t0 = mono_ms();
	assert_int_equal(cmd(f, VIRTIO_SND_R_PCM_START, IN), VIRTIO_SND_S_OK);
	for (int i = 0; i < 3; i++) {
		int16_t got[480];

		/* 5.14.6.8.2: used length = frames + status. */
		expect_done(f, VIRTIO_SND_RXQ, &m[i], 960 + 8, VIRTIO_SND_S_OK, 2000);
		assert_true(mono_ms() - t0 >= (uint64_t)(10 * (i + 1)));
		memcpy(got, vqh_hva(&f->h, m[i].data_gpa), sizeof(got));
		/* The file's frames in order, bit-exact, starting over after
		 * its 1000 frames. */
		for (int k = 0; k < 480; k++, frame++)
			assert_int_equal(got[k], in_sample(frame % IN_FRAMES));
	}
	assert_int_equal(cmd(f, VIRTIO_SND_R_PCM_STOP, IN), VIRTIO_SND_S_OK);
	assert_int_equal(cmd(f, VIRTIO_SND_R_PCM_RELEASE, IN), VIRTIO_SND_S_OK);
}

static void test_rx_converts_and_release_returns_empty(void **state)
{
	struct fixture *f = *state;
	struct io_msg m[2];
	uint32_t id, len;
	int16_t got[2 * 240];

	/* Stereo at 48 kHz from the mono file: each sample twice. */
	assert_int_equal(set_params(f, IN, VIRTIO_SND_PCM_FMT_S16, VIRTIO_SND_PCM_RATE_48000, 2,
				    4 * 960, 960),
			 VIRTIO_SND_S_OK);
	assert_int_equal(cmd(f, VIRTIO_SND_R_PCM_PREPARE, IN), VIRTIO_SND_S_OK);
	assert_int_equal(cmd(f, VIRTIO_SND_R_PCM_START, IN), VIRTIO_SND_S_OK);
	m[0] = post_rx(f, IN, 960);
	vqh_kick(&f->h, f->dev, VIRTIO_SND_RXQ);
	expect_done(f, VIRTIO_SND_RXQ, &m[0], 968, VIRTIO_SND_S_OK, 2000);
	memcpy(got, vqh_hva(&f->h, m[0].data_gpa), sizeof(got));
	for (int k = 0; k < 240; k++) {
		assert_int_equal(got[2 * k], in_sample((unsigned int)k));
		assert_int_equal(got[2 * k + 1], in_sample((unsigned int)k));
	}
	/* A message still waiting at RELEASE comes back with no frames. */
	assert_int_equal(cmd(f, VIRTIO_SND_R_PCM_STOP, IN), VIRTIO_SND_S_OK);
	m[1] = post_rx(f, IN, 960);
	vqh_kick(&f->h, f->dev, VIRTIO_SND_RXQ);
	assert_false(vqh_used(&f->h, f->dev, VIRTIO_SND_RXQ, &id, &len));
	assert_int_equal(cmd(f, VIRTIO_SND_R_PCM_RELEASE, IN), VIRTIO_SND_S_OK);
	expect_done(f, VIRTIO_SND_RXQ, &m[1], 8, VIRTIO_SND_S_OK, 0);
	assert_int_equal(((uint8_t *)vqh_hva(&f->h, m[1].data_gpa))[0], 0xee);
}

static void test_rx_hostile(void **state)
{
	struct fixture *f = *state;
	struct io_msg m;

	prepare_mono48(f, IN);
	prepare_mono48(f, OUT);
	m = post_rx(f, OUT, 960); /* output stream on the rx queue */
	vqh_kick(&f->h, f->dev, VIRTIO_SND_RXQ);
	expect_done(f, VIRTIO_SND_RXQ, &m, 8, VIRTIO_SND_S_BAD_MSG, 0);
	m = post_rx(f, 7, 960);
	vqh_kick(&f->h, f->dev, VIRTIO_SND_RXQ);
	expect_done(f, VIRTIO_SND_RXQ, &m, 8, VIRTIO_SND_S_BAD_MSG, 0);
	m = post_rx(f, IN, 959); /* half a frame */
	vqh_kick(&f->h, f->dev, VIRTIO_SND_RXQ);
	expect_done(f, VIRTIO_SND_RXQ, &m, 8, VIRTIO_SND_S_BAD_MSG, 0);
	/* Only the status (after the frames) was written. */
	assert_int_equal(((uint8_t *)vqh_hva(&f->h, m.data_gpa))[0], 0xee);
	assert_int_equal(((uint8_t *)vqh_hva(&f->h, m.data_gpa))[958], 0xee);
	m = post_rx(f, IN, 0); /* status only */
	vqh_kick(&f->h, f->dev, VIRTIO_SND_RXQ);
	expect_done(f, VIRTIO_SND_RXQ, &m, 8, VIRTIO_SND_S_BAD_MSG, 0);
}

static void test_rx_silence_without_input(void **state)
{
	struct fixture *f = *state;
	struct io_msg m;
	uint8_t got[480];

	/* U8 mono: silence is 0x80, not 0. */
	assert_int_equal(set_params(f, IN, VIRTIO_SND_PCM_FMT_U8, VIRTIO_SND_PCM_RATE_48000, 1, 1920,
				    480),
			 VIRTIO_SND_S_OK);
	assert_int_equal(cmd(f, VIRTIO_SND_R_PCM_PREPARE, IN), VIRTIO_SND_S_OK);
	assert_int_equal(cmd(f, VIRTIO_SND_R_PCM_START, IN), VIRTIO_SND_S_OK);
	m = post_rx(f, IN, 480);
	vqh_kick(&f->h, f->dev, VIRTIO_SND_RXQ);
	expect_done(f, VIRTIO_SND_RXQ, &m, 488, VIRTIO_SND_S_OK, 2000);
	memcpy(got, vqh_hva(&f->h, m.data_gpa), sizeof(got));
	for (int i = 0; i < 480; i++)
		assert_int_equal(got[i], 0x80);
}

static void test_reset_drops_and_restarts(void **state)
{
	struct fixture *f = *state;
	int16_t pcm[480];
	struct io_msg m;
	uint32_t id, len;

	prepare_mono48(f, OUT);
	fill_pcm(pcm, 480, 4);
	m = post_tx(f, OUT, pcm, sizeof(pcm));
	vqh_kick(&f->h, f->dev, VIRTIO_SND_TXQ);
	assert_int_equal(cmd(f, VIRTIO_SND_R_PCM_START, OUT), VIRTIO_SND_S_OK);
	/* Device reset with a message in flight: dropped, timer quiet. */
	pthread_mutex_lock(&f->dev->lock);
	f->dev->ops->reset(f->dev);
	pthread_mutex_unlock(&f->dev->lock);
	for (uint16_t q = 0; q < VIRTIO_SND_NUM_QUEUES; q++)
		vqh_setup_queue(&f->h, f->dev, q, QSIZE);
	assert_int_equal(vqh_activate(&f->h, f->dev), 0);
	pump(f, 40);
	assert_false(vqh_used(&f->h, f->dev, VIRTIO_SND_TXQ, &id, &len));
	/* Back to the initial state, and working. */
	assert_int_equal(cmd(f, VIRTIO_SND_R_PCM_START, OUT), VIRTIO_SND_S_BAD_MSG);
	prepare_mono48(f, OUT);
	assert_int_equal(cmd(f, VIRTIO_SND_R_PCM_START, OUT), VIRTIO_SND_S_OK);
	m = post_tx(f, OUT, pcm, sizeof(pcm));
	vqh_kick(&f->h, f->dev, VIRTIO_SND_TXQ);
	expect_done(f, VIRTIO_SND_TXQ, &m, 8, VIRTIO_SND_S_OK, 2000);
}

static void test_wav_finished_on_destroy(void **state)
{
	struct fixture *f = *state;
	int16_t pcm[2 * 480];
	struct io_msg m;
	size_t n;
	uint8_t *wav;

	/* Stereo this time; then the VM ends while the stream runs. */
	assert_int_equal(set_params(f, OUT, VIRTIO_SND_PCM_FMT_S16, VIRTIO_SND_PCM_RATE_44100, 2,
				    4 * 1920, 1920),
			 VIRTIO_SND_S_OK);
	assert_int_equal(cmd(f, VIRTIO_SND_R_PCM_PREPARE, OUT), VIRTIO_SND_S_OK);
	fill_pcm(pcm, 960, 5);
	m = post_tx(f, OUT, pcm, sizeof(pcm));
	(void)m;
	vqh_kick(&f->h, f->dev, VIRTIO_SND_TXQ);
	assert_int_equal(cmd(f, VIRTIO_SND_R_PCM_START, OUT), VIRTIO_SND_S_OK);
	f->dev->ops->destroy(f->dev);
	f->dev = NULL;
	wav = read_file(f->out_path, &n);
	assert_int_equal(n, 44 + sizeof(pcm));
	assert_int_equal(get16(wav + 22), 2);
	assert_int_equal(get32(wav + 24), 44100);
	assert_int_equal(get32(wav + 40), sizeof(pcm));
	assert_memory_equal(wav + 44, pcm, sizeof(pcm));
	free(wav);
}

static void test_second_format_not_mixed_in(void **state)
{
	struct fixture *f = *state;
	int16_t pcm[480];
	struct io_msg m;
	size_t n;
	uint8_t *wav;

	prepare_mono48(f, OUT);
	assert_int_equal(cmd(f, VIRTIO_SND_R_PCM_RELEASE, OUT), VIRTIO_SND_S_OK);
	/* The file is 48 kHz mono now; stereo playback is accepted but
	 * cannot go into it. */
	assert_int_equal(set_params(f, OUT, VIRTIO_SND_PCM_FMT_S16, VIRTIO_SND_PCM_RATE_48000, 2,
				    4 * 960, 960),
			 VIRTIO_SND_S_OK);
	assert_int_equal(cmd(f, VIRTIO_SND_R_PCM_PREPARE, OUT), VIRTIO_SND_S_OK);
	fill_pcm(pcm, 480, 6);
	m = post_tx(f, OUT, pcm, sizeof(pcm));
	vqh_kick(&f->h, f->dev, VIRTIO_SND_TXQ);
	assert_int_equal(cmd(f, VIRTIO_SND_R_PCM_RELEASE, OUT), VIRTIO_SND_S_OK);
	expect_done(f, VIRTIO_SND_TXQ, &m, 8, VIRTIO_SND_S_OK, 0);
	wav = read_file(f->out_path, &n);
	assert_int_equal(n, 44);
	assert_int_equal(get16(wav + 22), 1);
	free(wav);
}

/* ---- construction and the command line ---- */

static void test_create_errors(void **state)
{
	struct virtio_dev *dev = NULL;
	struct avp_sound_cfg cfg = { 0 };
	char path[] = "/tmp/avp-snd-bad.XXXXXX";
	int fd;

	(void)state;
	cfg.out_path = "/nonexistent-dir/out.wav";
	assert_int_equal(virtio_snd_create(&dev, &cfg), -ENOENT);
	cfg.out_path = NULL;
	cfg.in_path = "/nonexistent-dir/in.wav";
	assert_int_equal(virtio_snd_create(&dev, &cfg), -ENOENT);
	/* Not a WAV. */
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "hello, this is not a wav file", 29), 29);
	close(fd);
	cfg.in_path = path;
	assert_int_equal(virtio_snd_create(&dev, &cfg), -EINVAL);
	unlink(path);
	/* Neither file: output dropped, input silent. */
	cfg.in_path = NULL;
	assert_int_equal(virtio_snd_create(&dev, &cfg), 0);
	dev->ops->destroy(dev);
}

struct parsed {
	struct avp_config cfg;
	int ret;
	char err[512];
};

static void parse(struct parsed *p, const char *sound1, const char *sound2)
{
	const char *argv[] = { "avp", "run", "--kernel", "bz", "--sound", sound1, "--sound", sound2,
			       NULL };
	FILE *err = fmemopen(p->err, sizeof(p->err) - 1, "w");

	memset(p->err, 0, sizeof(p->err));
	avp_config_init(&p->cfg);
	p->ret = cli_parse(sound2 ? 8 : 6, (char **)argv, &p->cfg, err);
	fclose(err);
}

static void test_cli_sound(void **state)
{
	struct parsed p;
	const char *bad[] = { "", "out=", "in=", "out=a,out=b", "in=a,in=b", "out=a,in=a",
			      "out=a,bogus=1", "a.wav", ",", "out=a,", NULL };

	(void)state;
	parse(&p, "out=o.wav,in=i.wav", NULL);
	assert_int_equal(p.ret, CLI_RUN);
	assert_non_null(SND(p.cfg));
	assert_string_equal(SND(p.cfg)->out_path, "o.wav");
	assert_string_equal(SND(p.cfg)->in_path, "i.wav");
	avp_config_free(&p.cfg);

	parse(&p, "in=x.wav", NULL);
	assert_int_equal(p.ret, CLI_RUN);
	assert_null(SND(p.cfg)->out_path);
	assert_string_equal(SND(p.cfg)->in_path, "x.wav");
	avp_config_free(&p.cfg);

	parse(&p, "out=o.wav", NULL);
	assert_int_equal(p.ret, CLI_RUN);
	assert_false(SND(p.cfg)->in_path != NULL);
	avp_config_free(&p.cfg);

	/* Without --sound there is no sound device. */
	{
		const char *argv[] = { "avp", "run", "--kernel", "bz", NULL };
		FILE *err = fmemopen(p.err, sizeof(p.err) - 1, "w");

		avp_config_init(&p.cfg);
		assert_int_equal(cli_parse(4, (char **)argv, &p.cfg, err), CLI_RUN);
		fclose(err);
		assert_null(SND(p.cfg));
		avp_config_free(&p.cfg);
	}

	for (int i = 0; bad[i]; i++) {
		parse(&p, bad[i], NULL);
		assert_int_equal(p.ret, -EINVAL);
		assert_non_null(strstr(p.err, "--sound"));
		/* One line, naming the option. */
		assert_ptr_equal(strchr(p.err, '\n'), p.err + strlen(p.err) - 1);
		avp_config_free(&p.cfg);
	}
	parse(&p, "out=a.wav", "out=b.wav");
	assert_int_equal(p.ret, -EINVAL);
	assert_non_null(strstr(p.err, "at most one"));
	avp_config_free(&p.cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_identity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pcm_info, setup, teardown),
		cmocka_unit_test_setup_teardown(test_info_item_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_info_hostile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_jacks_and_chmaps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_and_short, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_params_validation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lifecycle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_lands_in_wav_at_real_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_after_underrun_and_pause, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_hostile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_too_many_segments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_held_messages_bounded_by_ring, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_from_wav, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_converts_and_release_returns_empty, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_rx_hostile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_silence_without_input, setup_no_input,
						teardown),
		cmocka_unit_test_setup_teardown(test_reset_drops_and_restarts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wav_finished_on_destroy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_second_format_not_mixed_in, setup, teardown),
		cmocka_unit_test(test_create_errors),
		cmocka_unit_test(test_cli_sound),
	};

	return cmocka_run_group_tests_name("virtio_snd", tests, NULL, NULL);
}
