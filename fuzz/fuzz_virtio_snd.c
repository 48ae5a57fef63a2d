/* libFuzzer target: virtio-sound (src/devices/virtio_snd.c) with its WAV
 * sink and source (src/audio/wav.c): control requests and both PCM
 * queues.
 *
 * The sink is a memfd (reopened through /proc, truncated every run); the
 * source one of four WAV files of different formats written once per
 * process into a temporary directory, none (silence), or a file made from
 * the input's bytes (so hostile WAV headers meet the parser too).
 *
 * Input: u8 mode (bits 0-2: the source, 0 none, 1-4 the prepared ones,
 * 5-7 from the input, a u16 length and the bytes following; bit 3: no
 * sink), then the common grammar of the hostile pretend driver
 * (fuzz_guest.h), whose device op's sub-ops are:
 *
 *   0 control   one controlq request: *_INFO with any start, count and
 *               item size; SET_PARAMS with stream ids 0-2 (or any),
 *               formats, rates, channels and sizes mostly valid;
 *               PREPARE/START/STOP/RELEASE; JACK_REMAP; unknown codes;
 *               the request may be cut short and the response buffer
 *               too small
 *   1 pcm out   an I/O message on the TX queue: header, frames in 1-4
 *               segments, status; the stream id mostly 0
 *   2 pcm in    the same on the RX queue (frames and status writable)
 *   3 wait      up to a millisecond, so that short messages come due
 *               (0.2 ms in all per run, see WAIT_BUDGET_NS)
 *               (the common grammar's POLL op then completes them)
 *
 * Beyond the sanitizers: a control request alone in the queue with room
 * for a status is answered with a status the specification defines; after
 * the device is destroyed the sink is a WAV whose RIFF and data sizes
 * match the file. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "avp/devices/virtio_snd.h"
#include "avp/log.h"
#include "fuzz_guest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define NSOURCES 4
#define MAX_WAV_INPUT 2048

static char dir[64];
static char src_path[NSOURCES + 1][128]; /* [NSOURCES]: from the input */
static int sink_fd = -1;
static char sink_path[64];

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

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* A small WAV: tag 1 (PCM) or 3 (float), any bits, rate and channels. */
static void write_wav(const char *path, uint16_t tag, uint16_t channels, uint32_t rate,
		      uint16_t bits, uint32_t frames)
{
	uint32_t align = channels * bits / 8u, bytes = frames * align;
	uint8_t h[44];
	FILE *fp = fopen(path, "wb");

	if (!fp) {
		perror(path);
		exit(1);
	}
	memcpy(h, "RIFF", 4);
	put32(h + 4, 36 + bytes);
	memcpy(h + 8, "WAVEfmt ", 8);
	put32(h + 16, 16);
	put16(h + 20, tag);
	put16(h + 22, channels);
	put32(h + 24, rate);
	put32(h + 28, rate * align);
	put16(h + 32, (uint16_t)align);
	put16(h + 34, bits);
	memcpy(h + 36, "data", 4);
	put32(h + 40, bytes);
	fwrite(h, 1, sizeof(h), fp);
	for (uint32_t i = 0; i < bytes; i++)
		fputc((int)((i * 37u) >> 3), fp);
	fclose(fp);
}

static void cleanup(void)
{
	for (int i = 0; i <= NSOURCES; i++)
		unlink(src_path[i]);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	avp_log_set_level(AVP_LOG_ERROR);
	/* The default 50 us slack would make every short wait a long one. */
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	fuzz_tmpdir(dir, sizeof(dir), "snd");
	for (int i = 0; i <= NSOURCES; i++)
		snprintf(src_path[i], sizeof(src_path[i]), "%s/in%d.wav", dir, i);
	atexit(cleanup);
	write_wav(src_path[0], 1, 1, 8000, 8, 300);	/* U8 mono */
	write_wav(src_path[1], 1, 2, 44100, 16, 1000); /* S16 stereo */
	write_wav(src_path[2], 1, 6, 48000, 24, 100);	/* S24 5.1 */
	write_wav(src_path[3], 3, 1, 96000, 64, 50);	/* F64 mono */
	sink_fd = memfd_create("avp-fuzz-snd", MFD_CLOEXEC);
	if (sink_fd < 0) {
		perror("memfd_create");
		exit(1);
	}
	snprintf(sink_path, sizeof(sink_path), "/proc/self/fd/%d", sink_fd);
	return 0;
}

static uint32_t stream_id(struct fz *z, uint32_t usual)
{
	uint8_t b = fz_u8(z);

	if (b & 0x80)
		return fz_u32(z);
	return b & 0x40 ? b % 3 : usual;
}

static bool status_ok(uint32_t s)
{
	return s >= VIRTIO_SND_S_OK && s <= VIRTIO_SND_S_IO_ERR;
}

static void control_op(struct fuzz_guest *g, struct fz *z)
{
	static const uint32_t codes[] = {
		VIRTIO_SND_R_PCM_INFO,	   VIRTIO_SND_R_PCM_SET_PARAMS, VIRTIO_SND_R_PCM_PREPARE,
		VIRTIO_SND_R_PCM_START,	   VIRTIO_SND_R_PCM_STOP,	VIRTIO_SND_R_PCM_RELEASE,
		VIRTIO_SND_R_CHMAP_INFO,   VIRTIO_SND_R_JACK_INFO,	VIRTIO_SND_R_JACK_REMAP,
		0x1000 /* CTL_INFO */,	   VIRTIO_SND_R_PCM_SET_PARAMS, VIRTIO_SND_R_PCM_PREPARE,
		VIRTIO_SND_R_PCM_START,	   VIRTIO_SND_R_PCM_RELEASE,	VIRTIO_SND_R_PCM_INFO,
		0,
	};
	const struct virtq *vq = &g->dev->vqs[VIRTIO_SND_CONTROLQ];
	uint8_t sel = fz_u8(z), shape = fz_u8(z);
	uint32_t code = sel & 0x80 ? fz_u32(z) : codes[sel & 15];
	uint8_t req[32] = { 0 };
	size_t len = 8, resp_len = 4;
	uint32_t off, roff;
	struct fg_seg segs[2];
	bool alone = vq->ready && vq->last_avail_idx == g->avail_idx[VIRTIO_SND_CONTROLQ];
	uint16_t before = vq->used_idx;

	put32(req, code);
	switch (code) {
	case VIRTIO_SND_R_PCM_INFO:
	case VIRTIO_SND_R_CHMAP_INFO:
	case VIRTIO_SND_R_JACK_INFO: {
		uint8_t b = fz_u8(z);
		uint32_t start = b & 0x80 ? fz_u32(z) : b & 3;
		uint32_t count = b & 0x40 ? fz_u32(z) : (b >> 2) & 3;
		uint32_t size = b & 0x20 ? fz_u8(z) * 2u : (code == VIRTIO_SND_R_PCM_INFO ? 32 : 24);

		if ((b & 0x10) && (fz_u8(z) & 1))
			size = fz_u32(z);
		put32(req + 4, start);
		put32(req + 8, count);
		put32(req + 12, size);
		len = 16;
		/* Room for the items, mostly. */
		resp_len = 4 + ((uint64_t)count * size > 2048 ? 2048 : count * size);
		break;
	}
	case VIRTIO_SND_R_PCM_SET_PARAMS: {
		static const uint8_t formats[] = { VIRTIO_SND_PCM_FMT_S16, VIRTIO_SND_PCM_FMT_U8,
						   VIRTIO_SND_PCM_FMT_S32, VIRTIO_SND_PCM_FMT_FLOAT,
						   VIRTIO_SND_PCM_FMT_S24, 0, 24, 255 };
		uint8_t b = fz_u8(z);
		uint32_t period = b & 0x80 ? fz_u32(z) : 64u << (fz_u8(z) % 13);
		uint32_t periods = b & 0x40 ? fz_u32(z) : 1u + fz_u8(z) % 8;

		put32(req + 4, stream_id(z, b & 1));
		put32(req + 8, period * periods); /* buffer_bytes */
		put32(req + 12, period);
		put32(req + 16, b & 0x20 ? fz_u32(z) : 0); /* features */
		req[20] = b & 0x10 ? fz_u8(z) : 1 + (b >> 1 & 1); /* channels */
		req[21] = formats[((b >> 2) & 3) | (b & 0x08 ? 4 : 0)];
		req[22] = fz_u8(z) % 16; /* rate: 14 and 15 undefined */
		len = 24;
		break;
	}
	case VIRTIO_SND_R_PCM_PREPARE:
	case VIRTIO_SND_R_PCM_START:
	case VIRTIO_SND_R_PCM_STOP:
	case VIRTIO_SND_R_PCM_RELEASE:
	case VIRTIO_SND_R_JACK_REMAP:
		put32(req + 4, stream_id(z, fz_u8(z) & 1));
		break;
	default:
		break;
	}
	if (shape & 1) /* cut short */
		len = fz_u8(z) % (len + 1);
	if (shape & 2) /* a stingy response */
		resp_len = fz_u8(z) % 8;
	off = fg_alloc(g, (uint32_t)len);
	memcpy(g->ram + off, req, len);
	roff = fg_alloc(g, (uint32_t)resp_len);
	memset(g->ram + roff, 0xee, resp_len);
	segs[0] = (struct fg_seg){ fg_gpa(off), (uint32_t)len, false };
	segs[1] = (struct fg_seg){ fg_gpa(roff), (uint32_t)resp_len, true };
	fg_post(g, VIRTIO_SND_CONTROLQ, segs, 2, shape & 4, fg_alloc(g, 16 * FG_MAX_SEGS));
	alone = alone && g->qsize >= 2 && (!(shape & 4) || vq->indirect) && len && resp_len;
	fg_kick(g, VIRTIO_SND_CONTROLQ);
	if (!alone || !vq->ready || resp_len < 4 || vq->used_idx == before)
		return;
	FUZZ_CHECK(vq->used_idx == (uint16_t)(before + 1));
	FUZZ_CHECK(status_ok(get32(g->ram + roff)));
}

static void pcm_op(struct fuzz_guest *g, struct fz *z, bool out)
{
	uint16_t q = out ? VIRTIO_SND_TXQ : VIRTIO_SND_RXQ;
	uint8_t shape = fz_u8(z);
	uint32_t id = stream_id(z, out ? VIRTIO_SND_STREAM_OUT : VIRTIO_SND_STREAM_IN);
	uint16_t l = fz_u16(z);
	/* Mostly whole frames of any format: multiples of 24 bytes. */
	uint32_t data = l & 0x8000 ? l & 0x7fff : 24u * (l % 256);
	unsigned int nseg = 1 + (shape & 3);
	uint32_t status_len = shape & 0x10 ? fz_u8(z) % 9 : 8;
	uint32_t hlen = shape & 0x20 ? fz_u8(z) % 5 : 4;
	struct fg_seg segs[FG_MAX_SEGS];
	unsigned int n = 0;
	uint32_t off;

	off = fg_alloc(g, 4);
	put32(g->ram + off, id);
	segs[n++] = (struct fg_seg){ fg_gpa(off), hlen, false };
	/* The frames, split in nseg pieces; output frames are a pattern. */
	for (unsigned int i = 0; i < nseg; i++) {
		uint32_t piece = i + 1 < nseg ? data / nseg : data - (data / nseg) * (nseg - 1);

		off = fg_alloc(g, piece);
		if (out)
			for (uint32_t k = 0; k < piece; k++)
				g->ram[off + k] = (uint8_t)(k * 7);
		if (piece)
			segs[n++] = (struct fg_seg){ fg_gpa(off), piece, !out };
	}
	if (status_len)
		segs[n++] = (struct fg_seg){ fg_gpa(fg_alloc(g, status_len)), status_len, true };
	fg_post(g, q, segs, n, shape & 0x40, fg_alloc(g, 16 * FG_MAX_SEGS));
	if (!(shape & 0x80))
		fg_kick(g, q);
}

/* Sleeping was most of a run's time (an input can wait hundreds of
 * times): a run sleeps at most WAIT_BUDGET_NS in all, enough for short
 * messages at high rates to come due, the path the waits are for. */
#define WAIT_BUDGET_NS 200000L
static long wait_left_ns;

static long elapsed_ns(const struct timespec *a, const struct timespec *b)
{
	return (b->tv_sec - a->tv_sec) * 1000000000L + (b->tv_nsec - a->tv_nsec);
}

static void wait_op(struct fz *z)
{
	long ns = 4000L * fz_u8(z);
	struct timespec ts, t0, t1;

	if (ns > wait_left_ns)
		ns = wait_left_ns;
	if (ns <= 0)
		return;
	/* What the sleep took (the timer slack, a busy machine), not what
	 * was asked, counts against the budget. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ts = (struct timespec){ 0, ns };
	nanosleep(&ts, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	wait_left_ns -= elapsed_ns(&t0, &t1) > ns ? elapsed_ns(&t0, &t1) : ns;
}

static void snd_op(struct fuzz_guest *g, struct fz *z, void *opaque)
{
	(void)opaque;
	switch (fz_u8(z) % 4) {
	case 0:
		control_op(g, z);
		break;
	case 1:
		pcm_op(g, z, true);
		break;
	case 2:
		pcm_op(g, z, false);
		break;
	case 3:
		wait_op(z);
		break;
	}
}

/* The sink as left by wav_writer_close: RIFF and data sizes agree with
 * the file (or nothing at all was written: no format ever set). */
static void check_sink(void)
{
	struct stat st;
	uint8_t h[64];
	ssize_t n;
	uint64_t off = 12;

	if (fstat(sink_fd, &st) || st.st_size == 0)
		return;
	n = pread(sink_fd, h, sizeof(h), 0);
	FUZZ_CHECK(n >= 44);
	FUZZ_CHECK(memcmp(h, "RIFF", 4) == 0 && memcmp(h + 8, "WAVE", 4) == 0);
	FUZZ_CHECK(get32(h + 4) == (uint64_t)st.st_size - 8);
	while (off + 8 <= (uint64_t)n && memcmp(h + off, "data", 4))
		off += 8 + get32(h + off + 4);
	FUZZ_CHECK(off + 8 <= (uint64_t)n);
	FUZZ_CHECK(get32(h + off + 4) == (uint64_t)st.st_size - off - 8);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t wanted[] = { 29 /* EVENT_IDX */, 28 /* INDIRECT_DESC */ };
	struct fz z = { data, size };
	uint8_t mode = fz_u8(&z);
	unsigned int src = mode & 7;
	struct avp_sound_cfg cfg = { 0 };
	struct fuzz_guest g;
	struct virtio_dev *dev;

	if (sink_fd < 0 || ftruncate(sink_fd, 0))
		return 0;
	wait_left_ns = WAIT_BUDGET_NS;
	if (src >= 5) {
		uint8_t buf[MAX_WAV_INPUT];
		size_t n = fz_bytes(&z, buf, fz_u16(&z) % MAX_WAV_INPUT);
		FILE *fp = fopen(src_path[NSOURCES], "wb");

		if (!fp)
			return 0;
		fwrite(buf, 1, n, fp);
		fclose(fp);
		cfg.in_path = src_path[NSOURCES];
	} else if (src) {
		cfg.in_path = src_path[src - 1];
	}
	cfg.out_path = mode & 8 ? NULL : sink_path;
	/* A WAV from the input may be refused: that is the parser's test. */
	if (virtio_snd_create(&dev, &cfg))
		return 0;
	if (fg_init(&g) == 0) {
		fg_run(&g, dev, &z, wanted, 2, snd_op, NULL);
		fg_reset(&g);
	}
	dev->ops->destroy(dev);
	fg_fini(&g);
	check_sink();
	return 0;
}
