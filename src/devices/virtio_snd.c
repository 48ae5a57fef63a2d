/* virtio-sound (VIRTIO 1.2, section 5.14), AVP-SND-1: one output PCM stream
 * (0) and one input PCM stream (1) in one function group (hda_fn_nid 0, so
 * Linux shows them as the playback and capture halves of pcmC0D0), no jacks,
 * one stereo channel map per stream, no control elements (VIRTIO_SND_F_CTLS
 * is not offered). Queues: controlq, eventq, txq, rxq (5.14.2).
 *
 * Control requests are answered at once on the device thread. I/O messages
 * (5.14.6.8) are header {stream_id} + PCM frames + status {status,
 * latency_bytes}:
 *
 * - txq: the frames are appended to the out= WAV when the message arrives
 *   (the first SET_PARAMS of the output stream fixes the file's format),
 *   and the message is completed when a real device would have finished
 *   playing it (5.14.6.8.1.1: not before the buffer is consumed);
 * - rxq: the message is filled from the in= WAV (converted to the stream's
 *   parameters, looping) when a real device would have recorded that much.
 *
 * Pacing: while a stream runs, every held message gets a deadline: the
 * previous message's deadline (or now, after an underrun) plus its play
 * time, bytes / (rate * frame size). One timerfd per stream fires at the
 * earliest deadline. Linux's driver counts each completion as an elapsed
 * period and moves its hardware pointer by it, so completing early would
 * let the guest run ahead of real time; completing late only delays it.
 *
 * Lifecycle (5.14.6.6.1): SET_PARAMS -> PREPARE -> (output: pre-buffered
 * messages are held) START <-> STOP -> RELEASE. Requests outside these
 * transitions, unknown stream ids and bad parameters get S_BAD_MSG; unknown
 * request codes S_NOT_SUPP. RELEASE completes every held message first
 * (5.14.6.6.5.1), then the request; it also rewrites the WAV header so the
 * file is valid whenever no stream is open.
 *
 * Caps (include/avp/devices/virtio_snd.h): at most VIRTIO_SND_MAX_QUEUED
 * messages held per stream (the rest wait in the ring), at most
 * VIRTIO_SND_MAX_IO_BYTES of frames and VIRTIO_SND_MAX_IO_SEGS segments per
 * message, and VIRTIO_SND_BUDGET requests per wakeup. Memory is allocated
 * only at creation. The WAV sink stops growing at WAV's 4 GiB limit. */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "avp/audio/wav.h"
#include "avp/devices/dev_wait.h"
#include "avp/devices/virtio_snd.h"
#include "avp/log.h"

enum snd_state {
	SND_ST_INIT, /* no parameters yet */
	SND_ST_PARAMS,
	SND_ST_PREPARED,
	SND_ST_RUNNING,
	SND_ST_STOPPED,
	SND_ST_RELEASED,
};

/* One held I/O message. */
struct snd_io {
	uint16_t head;
	uint32_t data_bytes;
	uint32_t status;      /* reported at completion (output: OK or IO_ERR) */
	uint64_t deadline_ns; /* 0 while the stream is not running */
	unsigned int n_in;    /* writable segments: [frames (input)] + status */
	struct iovec in[VIRTIO_SND_MAX_IO_SEGS];
};

struct snd_stream {
	uint32_t id;
	uint8_t direction;
	uint16_t queue;
	enum snd_state state;
	struct audio_format fmt; /* from SET_PARAMS */
	size_t frame_bytes;
	uint64_t bytes_per_sec;
	/* Held messages, oldest first (a ring of count entries from first). */
	struct snd_io io[VIRTIO_SND_MAX_QUEUED];
	unsigned int first;
	unsigned int count;
	uint64_t queued_bytes;
	uint64_t cursor_ns;	/* when the last scheduled message ends */
	struct dev_watch timer; /* timerfd, CLOCK_MONOTONIC */
	uint64_t armed_ns;	/* deadline the timer is set to, 0: disarmed */
};

struct vsnd {
	struct virtio_dev dev;
	struct virtio_snd_config config;
	struct snd_stream streams[VIRTIO_SND_NUM_STREAMS];
	struct wav_writer *sink;   /* NULL: output is dropped */
	struct wav_source *source; /* NULL: input is silence */
	bool sink_err_warned;
	struct dev_resched resched;
	struct virtq_chain chain;
	uint8_t *rx_buf; /* VIRTIO_SND_MAX_IO_BYTES: input frames before scatter */
};

/* What the streams offer (5.14.6.6.2). Linux needs S16 at 44.1/48 kHz for
 * everyday use; the others cost nothing since the WAV layer handles them. */
#define SND_FORMATS                                                                  \
	((1ull << VIRTIO_SND_PCM_FMT_U8) | (1ull << VIRTIO_SND_PCM_FMT_S16) |         \
	 (1ull << VIRTIO_SND_PCM_FMT_S32) | (1ull << VIRTIO_SND_PCM_FMT_FLOAT))

static const uint32_t rate_hz[] = {
	[VIRTIO_SND_PCM_RATE_5512] = 5512,     [VIRTIO_SND_PCM_RATE_8000] = 8000,
	[VIRTIO_SND_PCM_RATE_11025] = 11025,   [VIRTIO_SND_PCM_RATE_16000] = 16000,
	[VIRTIO_SND_PCM_RATE_22050] = 22050,   [VIRTIO_SND_PCM_RATE_32000] = 32000,
	[VIRTIO_SND_PCM_RATE_44100] = 44100,   [VIRTIO_SND_PCM_RATE_48000] = 48000,
	[VIRTIO_SND_PCM_RATE_64000] = 64000,   [VIRTIO_SND_PCM_RATE_88200] = 88200,
	[VIRTIO_SND_PCM_RATE_96000] = 96000,   [VIRTIO_SND_PCM_RATE_176400] = 176400,
	[VIRTIO_SND_PCM_RATE_192000] = 192000, [VIRTIO_SND_PCM_RATE_384000] = 384000,
};
/* 8 kHz to 192 kHz. */
#define SND_RATES (((1ull << (VIRTIO_SND_PCM_RATE_192000 + 1)) - 1) & ~1ull)

static struct vsnd *vsnd_of(struct virtio_dev *dev)
{
	return dev->priv;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int format_from_virtio(uint8_t vfmt, enum audio_sample_fmt *out)
{
	switch (vfmt) {
	case VIRTIO_SND_PCM_FMT_U8:
		*out = AUDIO_FMT_U8;
		return 0;
	case VIRTIO_SND_PCM_FMT_S16:
		*out = AUDIO_FMT_S16;
		return 0;
	case VIRTIO_SND_PCM_FMT_S32:
		*out = AUDIO_FMT_S32;
		return 0;
	case VIRTIO_SND_PCM_FMT_FLOAT:
		*out = AUDIO_FMT_F32;
		return 0;
	default:
		return -EINVAL;
	}
}

/* Copies src into the segments iov[0..n) starting at byte off. */
static size_t iov_write(const struct iovec *iov, unsigned int n, size_t off, const void *src,
			size_t len)
{
	size_t done = 0;

	for (unsigned int i = 0; i < n && done < len; i++) {
		size_t k;

		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		k = iov[i].iov_len - off;
		if (k > len - done)
			k = len - done;
		memcpy((uint8_t *)iov[i].iov_base + off, (const uint8_t *)src + done, k);
		done += k;
		off = 0;
	}
	return done;
}

static void put_status(const struct iovec *iov, unsigned int n, size_t off, uint32_t status,
		       uint32_t latency)
{
	struct virtio_snd_pcm_status st = { htole32(status), htole32(latency) };

	iov_write(iov, n, off, &st, sizeof(st));
}

/* ---- pacing ---- */

static uint64_t play_time_ns(const struct snd_stream *st, uint32_t bytes)
{
	/* bytes <= VIRTIO_SND_MAX_IO_BYTES: the product fits easily. */
	return (uint64_t)bytes * 1000000000ull / st->bytes_per_sec;
}

static struct snd_io *io_at(struct snd_stream *st, unsigned int i)
{
	return &st->io[(st->first + i) % VIRTIO_SND_MAX_QUEUED];
}

static void schedule(struct snd_stream *st, struct snd_io *io, uint64_t now)
{
	/* Back to back with the previous message; after an underrun (the
	 * driver was late) from now: the device cannot play the past. */
	uint64_t start = st->cursor_ns > now ? st->cursor_ns : now;

	io->deadline_ns = start + play_time_ns(st, io->data_bytes);
	st->cursor_ns = io->deadline_ns;
}

static void timer_set(struct snd_stream *st, uint64_t when_ns)
{
	struct itimerspec its = { 0 };

	if (st->armed_ns == when_ns || st->timer.fd < 0)
		return;
	/* it_value 0 disarms; CLOCK_MONOTONIC deadlines are never 0. */
	its.it_value.tv_sec = (time_t)(when_ns / 1000000000ull);
	its.it_value.tv_nsec = (long)(when_ns % 1000000000ull);
	if (timerfd_settime(st->timer.fd, TFD_TIMER_ABSTIME, &its, NULL))
		avp_warn("virtio-sound: stream %u: timerfd_settime: %s", st->id, strerror(errno));
	st->armed_ns = when_ns;
}

/* Points the timer at the oldest held message's deadline, if it has one. */
static void timer_update(struct snd_stream *st)
{
	timer_set(st, st->count ? io_at(st, 0)->deadline_ns : 0);
}

/* ---- completing I/O messages ---- */

static void io_drop_first(struct snd_stream *st)
{
	struct snd_io *io = io_at(st, 0);

	st->queued_bytes -= io->data_bytes;
	st->first = (st->first + 1) % VIRTIO_SND_MAX_QUEUED;
	st->count--;
}

/* Records into an input message: frames converted from the in= WAV. */
static uint32_t fill_input(struct vsnd *s, struct snd_stream *st, const struct snd_io *io)
{
	size_t frames = io->data_bytes / st->frame_bytes;
	size_t whole = frames * st->frame_bytes;
	uint32_t status = VIRTIO_SND_S_OK;

	if (!s->source)
		audio_silence(&st->fmt, s->rx_buf, frames);
	else if (wav_source_read(s->source, &st->fmt, s->rx_buf, frames))
		status = VIRTIO_SND_S_IO_ERR; /* the rest is silence */
	/* Parameters changed while the message was held: no partial frame. */
	memset(s->rx_buf + whole, 0, io->data_bytes - whole);
	iov_write(io->in, io->n_in, 0, s->rx_buf, io->data_bytes);
	return status;
}

/* Completes the oldest held message. played: its time has come (an input
 * message is filled); otherwise the stream is being released and an input
 * message goes back empty (the end-of-stream exception of 5.14.6.8.2.1). */
static void io_complete_first(struct vsnd *s, struct snd_stream *st, bool played)
{
	struct snd_io *io = io_at(st, 0);
	uint32_t latency = (uint32_t)(st->queued_bytes - io->data_bytes);
	uint32_t written = sizeof(struct virtio_snd_pcm_status);

	if (st->direction == VIRTIO_SND_D_OUTPUT) {
		put_status(io->in, io->n_in, 0, io->status, latency);
	} else {
		uint32_t status = VIRTIO_SND_S_OK;

		if (played) {
			status = fill_input(s, st, io);
			written += io->data_bytes;
		}
		/* 5.14.6.8: the status follows the frames; the used length
		 * counts the status plus the recorded frames. */
		put_status(io->in, io->n_in, io->data_bytes, status, 0);
	}
	virtio_dev_complete(&s->dev, st->queue, io->head, written);
	io_drop_first(st);
}

/* Completes every message whose play time is over. */
static void stream_due(struct vsnd *s, struct snd_stream *st)
{
	uint64_t now = now_ns();

	while (st->count && io_at(st, 0)->deadline_ns && io_at(st, 0)->deadline_ns <= now)
		io_complete_first(s, st, true);
}

static void stream_flush(struct vsnd *s, struct snd_stream *st)
{
	while (st->count)
		io_complete_first(s, st, false);
	st->cursor_ns = 0;
	timer_set(st, 0);
}

/* ---- taking I/O messages ---- */

/* Answers a malformed message at once: S_BAD_MSG and no frames. */
static void io_reject(struct vsnd *s, struct snd_stream *q, const struct virtq_chain *c,
		      size_t status_off)
{
	const struct iovec *in = &c->iov[c->n_out];

	put_status(in, c->n_in, status_off, VIRTIO_SND_S_BAD_MSG, 0);
	virtio_dev_complete(&s->dev, q->queue, c->head, sizeof(struct virtio_snd_pcm_status));
}

/* Appends an output message's frames (after the 4-byte header) to the WAV.
 * Returns the status the message will report. */
static uint32_t sink_write(struct vsnd *s, struct snd_stream *st, const struct virtq_chain *c)
{
	struct iovec v[VIRTIO_SND_MAX_IO_SEGS];
	unsigned int n = 0;
	size_t skip = sizeof(struct virtio_snd_pcm_xfer);
	int ret;

	/* The file keeps the format of the first SET_PARAMS (set_format only
	 * compares now); playback in another one was warned about there. */
	if (!s->sink || wav_writer_set_format(s->sink, &st->fmt))
		return VIRTIO_SND_S_OK;
	for (unsigned int i = 0; i < c->n_out; i++) {
		size_t len = c->iov[i].iov_len;

		if (skip >= len) {
			skip -= len;
			continue;
		}
		v[n].iov_base = (uint8_t *)c->iov[i].iov_base + skip;
		v[n].iov_len = len - skip;
		skip = 0;
		n++;
	}
	ret = wav_writer_writev(s->sink, v, n);
	if (ret == 0)
		return VIRTIO_SND_S_OK;
	if (!s->sink_err_warned)
		avp_warn("virtio-sound: output WAV: %s (%s)", strerror(-ret),
			 ret == -EFBIG ? "4 GiB WAV limit reached, no more output is recorded"
				       : "output is being lost");
	s->sink_err_warned = true;
	/* A full file is the host's limit, not a device fault. */
	return ret == -EFBIG ? VIRTIO_SND_S_OK : VIRTIO_SND_S_IO_ERR;
}

/* Checks and holds one message from the queue serving stream q. */
static void io_accept(struct vsnd *s, struct snd_stream *q, const struct virtq_chain *c)
{
	bool output = q->direction == VIRTIO_SND_D_OUTPUT;
	struct virtio_snd_pcm_xfer xfer;
	struct snd_io *io;
	size_t data, status_off;
	uint32_t status = VIRTIO_SND_S_OK;

	/* Without room for the status there is nothing to tell the driver. */
	if (c->in_bytes < sizeof(struct virtio_snd_pcm_status)) {
		virtio_dev_complete(&s->dev, q->queue, c->head, 0);
		return;
	}
	data = output ? c->out_bytes - (c->out_bytes >= sizeof(xfer) ? sizeof(xfer) : c->out_bytes)
		      : c->in_bytes - sizeof(struct virtio_snd_pcm_status);
	status_off = output ? 0 : data;
	if (c->n_out + c->n_in > VIRTIO_SND_MAX_IO_SEGS ||
	    virtq_chain_read(c, 0, &xfer, sizeof(xfer)) != sizeof(xfer) ||
	    le32toh(xfer.stream_id) != q->id ||
	    (q->state != SND_ST_PREPARED && q->state != SND_ST_RUNNING &&
	     q->state != SND_ST_STOPPED) ||
	    data == 0 || data > VIRTIO_SND_MAX_IO_BYTES || data % q->frame_bytes) {
		io_reject(s, q, c, status_off);
		return;
	}
	if (output)
		status = sink_write(s, q, c);
	io = io_at(q, q->count);
	io->head = c->head;
	io->data_bytes = (uint32_t)data;
	io->status = status;
	io->deadline_ns = 0;
	io->n_in = c->n_in;
	memcpy(io->in, &c->iov[c->n_out], c->n_in * sizeof(struct iovec));
	q->count++;
	q->queued_bytes += data;
	if (q->state == SND_ST_RUNNING)
		schedule(q, io, now_ns());
}

static void io_work(struct vsnd *s, struct snd_stream *q)
{
	struct virtio_dev *dev = &s->dev;

	for (unsigned int i = 0; i < VIRTIO_SND_BUDGET; i++) {
		int ret;

		/* Full: the rest waits in the ring; every completion calls us
		 * again. Never more than the ring holds either: a driver owns
		 * only that many chains, so more would be descriptors it made
		 * available again while we still hold them. */
		if (q->count == VIRTIO_SND_MAX_QUEUED || q->count >= dev->vqs[q->queue].size)
			break;
		ret = virtq_pop(&dev->vqs[q->queue], &s->chain);
		if (ret == 0)
			break;
		if (ret == -EIO) {
			virtio_dev_needs_reset(dev, "I/O ring is broken");
			return;
		}
		if (s->chain.head == UINT16_MAX)
			continue;
		if (ret < 0)
			virtio_dev_complete(dev, q->queue, s->chain.head, 0);
		else
			io_accept(s, q, &s->chain);
		if (i + 1 == VIRTIO_SND_BUDGET)
			dev_resched_request(&s->resched);
	}
	timer_update(q);
}

/* ---- control requests ---- */

static void pcm_info(const struct snd_stream *st, struct virtio_snd_pcm_info *info)
{
	memset(info, 0, sizeof(*info));
	info->hdr.hda_fn_nid = htole32(0);
	info->features = htole32(0); /* no shared memory, polling or events */
	info->formats = htole64(SND_FORMATS);
	info->rates = htole64(SND_RATES);
	info->direction = st->direction;
	info->channels_min = VIRTIO_SND_CHANNELS_MIN;
	info->channels_max = VIRTIO_SND_CHANNELS_MAX;
}

static void chmap_info(uint32_t id, struct virtio_snd_chmap_info *info)
{
	memset(info, 0, sizeof(*info));
	info->hdr.hda_fn_nid = htole32(0);
	info->direction = id == 0 ? VIRTIO_SND_D_OUTPUT : VIRTIO_SND_D_INPUT;
	info->channels = 2;
	info->positions[0] = VIRTIO_SND_CHMAP_FL;
	info->positions[1] = VIRTIO_SND_CHMAP_FR;
}

static void put_code(const struct virtq_chain *c, uint32_t code)
{
	struct virtio_snd_hdr h = { htole32(code) };

	virtq_chain_write(c, 0, &h, sizeof(h));
}

/* *_INFO (5.14.6.1): items [start_id, start_id + count), each written in
 * `size` bytes (cut short or zero-padded: the driver's structure may be
 * older or newer than ours). Returns the bytes written. */
static uint32_t query_info(struct vsnd *s, const struct virtq_chain *c, uint32_t code,
			   const uint8_t *req, size_t req_len)
{
	struct virtio_snd_query_info q;
	uint32_t total, start, count, size;
	uint8_t item[VIRTIO_SND_MAX_INFO_SIZE];

	if (req_len < sizeof(q)) {
		put_code(c, VIRTIO_SND_S_BAD_MSG);
		return sizeof(struct virtio_snd_hdr);
	}
	memcpy(&q, req, sizeof(q));
	start = le32toh(q.start_id);
	count = le32toh(q.count);
	size = le32toh(q.size);
	total = code == VIRTIO_SND_R_JACK_INFO   ? le32toh(s->config.jacks)
		: code == VIRTIO_SND_R_PCM_INFO ? le32toh(s->config.streams)
						: le32toh(s->config.chmaps);
	/* 5.14.6.2: the range must exist and the response must fit. */
	if (start > total || count > total - start || size == 0 ||
	    size > VIRTIO_SND_MAX_INFO_SIZE ||
	    c->in_bytes < sizeof(struct virtio_snd_hdr) + (size_t)count * size) {
		put_code(c, VIRTIO_SND_S_BAD_MSG);
		return sizeof(struct virtio_snd_hdr);
	}
	for (uint32_t i = 0; i < count; i++) {
		memset(item, 0, sizeof(item));
		if (code == VIRTIO_SND_R_PCM_INFO) {
			struct virtio_snd_pcm_info info;

			pcm_info(&s->streams[start + i], &info);
			memcpy(item, &info, size < sizeof(info) ? size : sizeof(info));
		} else if (code == VIRTIO_SND_R_CHMAP_INFO) {
			struct virtio_snd_chmap_info info;

			chmap_info(start + i, &info);
			memcpy(item, &info, size < sizeof(info) ? size : sizeof(info));
		}
		/* (no jacks: JACK_INFO never gets here with count > 0) */
		virtq_chain_write(c, sizeof(struct virtio_snd_hdr) + (size_t)i * size, item, size);
	}
	put_code(c, VIRTIO_SND_S_OK);
	return (uint32_t)(sizeof(struct virtio_snd_hdr) + (size_t)count * size);
}

static struct snd_stream *stream_of(struct vsnd *s, const uint8_t *req, size_t req_len)
{
	struct virtio_snd_pcm_hdr h;
	uint32_t id;

	if (req_len < sizeof(h))
		return NULL;
	memcpy(&h, req, sizeof(h));
	id = le32toh(h.stream_id);
	return id < VIRTIO_SND_NUM_STREAMS ? &s->streams[id] : NULL;
}

static uint32_t pcm_set_params(struct vsnd *s, const uint8_t *req, size_t req_len)
{
	struct snd_stream *st = stream_of(s, req, req_len);
	struct virtio_snd_pcm_set_params p;
	struct audio_format fmt;
	uint32_t buffer, period;
	size_t frame;

	if (!st || req_len < sizeof(p))
		return VIRTIO_SND_S_BAD_MSG;
	memcpy(&p, req, sizeof(p));
	buffer = le32toh(p.buffer_bytes);
	period = le32toh(p.period_bytes);
	/* 5.14.6.6.1: not while the stream is started or stopped. */
	if (st->state == SND_ST_RUNNING || st->state == SND_ST_STOPPED)
		return VIRTIO_SND_S_BAD_MSG;
	/* 5.14.6.6.3.2: only what PCM_INFO offered (no features at all). */
	if (p.features || format_from_virtio(p.format, &fmt.sample) || p.rate >= 64 ||
	    !((SND_RATES >> p.rate) & 1) || p.channels < VIRTIO_SND_CHANNELS_MIN ||
	    p.channels > VIRTIO_SND_CHANNELS_MAX)
		return VIRTIO_SND_S_BAD_MSG;
	fmt.rate = rate_hz[p.rate];
	fmt.channels = p.channels;
	frame = audio_frame_bytes(&fmt);
	/* period_bytes divides buffer_bytes (5.14.6.6.3.2) and holds whole
	 * frames; our caps bound both. */
	if (period == 0 || buffer == 0 || period % frame || buffer % period ||
	    period > VIRTIO_SND_MAX_IO_BYTES || buffer > VIRTIO_SND_MAX_BUFFER_BYTES)
		return VIRTIO_SND_S_BAD_MSG;

	st->fmt = fmt;
	st->frame_bytes = frame;
	st->bytes_per_sec = (uint64_t)fmt.rate * frame;
	st->state = SND_ST_PARAMS;
	if (st->direction == VIRTIO_SND_D_OUTPUT && s->sink &&
	    wav_writer_set_format(s->sink, &fmt))
		avp_guest_warn(s, "virtio-sound: the output WAV already holds another format; "
			       "playback at %u Hz, %u channel(s) is not recorded",
			       fmt.rate, fmt.channels);
	return VIRTIO_SND_S_OK;
}

static uint32_t pcm_command(struct vsnd *s, uint32_t code, const uint8_t *req, size_t req_len)
{
	struct snd_stream *st = stream_of(s, req, req_len);

	if (!st)
		return VIRTIO_SND_S_BAD_MSG;
	/* 5.14.6.6.1: the valid transitions. */
	switch (code) {
	case VIRTIO_SND_R_PCM_PREPARE:
		if (st->state != SND_ST_PARAMS && st->state != SND_ST_PREPARED &&
		    st->state != SND_ST_RELEASED)
			return VIRTIO_SND_S_BAD_MSG;
		st->state = SND_ST_PREPARED;
		return VIRTIO_SND_S_OK;
	case VIRTIO_SND_R_PCM_START:
		if (st->state != SND_ST_PREPARED && st->state != SND_ST_STOPPED)
			return VIRTIO_SND_S_BAD_MSG;
		st->state = SND_ST_RUNNING;
		{
			uint64_t now = now_ns();

			/* Pre-buffered (output) or posted (input) messages
			 * start now, back to back. */
			st->cursor_ns = now;
			for (unsigned int i = 0; i < st->count; i++)
				schedule(st, io_at(st, i), now);
		}
		timer_update(st);
		return VIRTIO_SND_S_OK;
	case VIRTIO_SND_R_PCM_STOP:
		if (st->state != SND_ST_RUNNING)
			return VIRTIO_SND_S_BAD_MSG;
		/* Held messages wait for START or RELEASE. */
		st->state = SND_ST_STOPPED;
		for (unsigned int i = 0; i < st->count; i++)
			io_at(st, i)->deadline_ns = 0;
		timer_set(st, 0);
		return VIRTIO_SND_S_OK;
	case VIRTIO_SND_R_PCM_RELEASE:
		if (st->state != SND_ST_PREPARED && st->state != SND_ST_STOPPED)
			return VIRTIO_SND_S_BAD_MSG;
		/* 5.14.6.6.5.1: every pending message first. */
		stream_flush(s, st);
		st->state = SND_ST_RELEASED;
		if (st->direction == VIRTIO_SND_D_OUTPUT && s->sink)
			wav_writer_finish(s->sink);
		return VIRTIO_SND_S_OK;
	default:
		return VIRTIO_SND_S_NOT_SUPP;
	}
}

/* One control request; returns the bytes written into its response. */
static uint32_t handle_ctl(struct vsnd *s, const struct virtq_chain *c)
{
	/* Longest request we understand: SET_PARAMS, 24 bytes. */
	uint8_t req[32] = { 0 };
	size_t req_len;
	uint32_t code, status;

	/* 5.14.6: the response starts with a virtio_snd_hdr. */
	if (c->in_bytes < sizeof(struct virtio_snd_hdr))
		return 0;
	req_len = virtq_chain_read(c, 0, req, sizeof(req));
	if (req_len < sizeof(struct virtio_snd_hdr)) {
		put_code(c, VIRTIO_SND_S_BAD_MSG);
		return sizeof(struct virtio_snd_hdr);
	}
	memcpy(&code, req, sizeof(code));
	code = le32toh(code);
	switch (code) {
	case VIRTIO_SND_R_JACK_INFO:
	case VIRTIO_SND_R_PCM_INFO:
	case VIRTIO_SND_R_CHMAP_INFO:
		return query_info(s, c, code, req, req_len);
	case VIRTIO_SND_R_JACK_REMAP:
		status = VIRTIO_SND_S_BAD_MSG; /* no jack ids exist */
		break;
	case VIRTIO_SND_R_PCM_SET_PARAMS:
		status = pcm_set_params(s, req, req_len);
		break;
	case VIRTIO_SND_R_PCM_PREPARE:
	case VIRTIO_SND_R_PCM_RELEASE:
	case VIRTIO_SND_R_PCM_START:
	case VIRTIO_SND_R_PCM_STOP:
		status = pcm_command(s, code, req, req_len);
		break;
	default:
		status = VIRTIO_SND_S_NOT_SUPP; /* control elements and the rest */
		break;
	}
	put_code(c, status);
	return sizeof(struct virtio_snd_hdr);
}

static void ctl_work(struct vsnd *s)
{
	struct virtio_dev *dev = &s->dev;

	for (unsigned int i = 0; i < VIRTIO_SND_BUDGET; i++) {
		int ret = virtq_pop(&dev->vqs[VIRTIO_SND_CONTROLQ], &s->chain);

		if (ret == 0)
			return;
		if (ret == -EIO) {
			virtio_dev_needs_reset(dev, "control ring is broken");
			return;
		}
		if (s->chain.head != UINT16_MAX)
			virtio_dev_complete(dev, VIRTIO_SND_CONTROLQ, s->chain.head,
					    ret == 1 ? handle_ctl(s, &s->chain) : 0);
	}
	dev_resched_request(&s->resched);
}

/* ---- ops ---- */

static uint64_t vsnd_features(struct virtio_dev *dev)
{
	(void)dev;
	return 0; /* 5.14.3: no VIRTIO_SND_F_CTLS */
}

static void vsnd_queue_notify(struct virtio_dev *dev, uint16_t q)
{
	struct vsnd *s = vsnd_of(dev);

	switch (q) {
	case VIRTIO_SND_CONTROLQ:
		ctl_work(s);
		break;
	case VIRTIO_SND_TXQ:
		io_work(s, &s->streams[VIRTIO_SND_STREAM_OUT]);
		break;
	case VIRTIO_SND_RXQ:
		io_work(s, &s->streams[VIRTIO_SND_STREAM_IN]);
		break;
	default:
		/* eventq: the buffers stay with us; we send no notifications
		 * (no jacks, no PCM event features offered). */
		break;
	}
}

static void vsnd_fd_ready(struct virtio_dev *dev, int fd, uint32_t events)
{
	struct vsnd *s = vsnd_of(dev);

	(void)events;
	if (dev_resched_take(&s->resched, fd)) {
		ctl_work(s);
		io_work(s, &s->streams[VIRTIO_SND_STREAM_OUT]);
		io_work(s, &s->streams[VIRTIO_SND_STREAM_IN]);
		return;
	}
	for (unsigned int i = 0; i < VIRTIO_SND_NUM_STREAMS; i++) {
		struct snd_stream *st = &s->streams[i];
		uint64_t expirations;

		if (fd < 0 || fd != st->timer.fd)
			continue;
		/* Non-blocking: EAGAIN is a spurious wakeup. */
		if (read(fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
			avp_warn("virtio-sound: timerfd: %s", strerror(errno));
		st->armed_ns = 0; /* one-shot: it is disarmed now */
		stream_due(s, st);
		/* Slots freed: take what waited in the ring (re-arms). */
		io_work(s, st);
	}
}

static int vsnd_activate(struct virtio_dev *dev)
{
	struct vsnd *s = vsnd_of(dev);
	int ret = dev_watch_set(dev, &s->resched.watch, true);

	for (unsigned int i = 0; i < VIRTIO_SND_NUM_STREAMS && !ret; i++)
		ret = dev_watch_set(dev, &s->streams[i].timer, true);
	return ret;
}

static void stream_reset(struct snd_stream *st)
{
	st->state = SND_ST_INIT;
	st->first = st->count = 0;
	st->queued_bytes = 0;
	st->cursor_ns = 0;
	timer_set(st, 0);
}

static void vsnd_reset(struct virtio_dev *dev)
{
	struct vsnd *s = vsnd_of(dev);

	/* The rings go away with the reset: held messages are dropped, not
	 * completed. */
	for (unsigned int i = 0; i < VIRTIO_SND_NUM_STREAMS; i++) {
		dev_watch_set(dev, &s->streams[i].timer, false);
		stream_reset(&s->streams[i]);
	}
	dev_watch_set(dev, &s->resched.watch, false);
	dev_resched_take(&s->resched, s->resched.watch.fd);
	if (s->sink)
		wav_writer_finish(s->sink);
}

static void vsnd_destroy(struct virtio_dev *dev)
{
	struct vsnd *s = vsnd_of(dev);

	for (unsigned int i = 0; i < VIRTIO_SND_NUM_STREAMS; i++)
		if (s->streams[i].timer.fd >= 0)
			close(s->streams[i].timer.fd);
	dev_resched_fini(&s->resched);
	wav_writer_close(s->sink);
	wav_source_close(s->source);
	free(s->rx_buf);
	virtio_dev_fini(dev);
	free(s);
}

static const struct virtio_dev_ops vsnd_ops = {
	.type = "virtio-sound",
	.device_id = VIRTIO_ID_SOUND,
	.num_queues = VIRTIO_SND_NUM_QUEUES,
	.features = vsnd_features,
	.activate = vsnd_activate,
	.queue_notify = vsnd_queue_notify,
	.fd_ready = vsnd_fd_ready,
	.reset = vsnd_reset,
	.destroy = vsnd_destroy,
};

int virtio_snd_create(struct virtio_dev **out, const struct avp_sound_cfg *cfg)
{
	struct vsnd *s = calloc(1, sizeof(*s));
	int ret;

	if (!s)
		return -ENOMEM;
	ret = 0;
	s->resched.watch.fd = -1;
	for (unsigned int i = 0; i < VIRTIO_SND_NUM_STREAMS; i++) {
		struct snd_stream *st = &s->streams[i];
		int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);

		if (fd < 0 && !ret)
			ret = -errno;
		st->id = i;
		st->direction = i == VIRTIO_SND_STREAM_OUT ? VIRTIO_SND_D_OUTPUT : VIRTIO_SND_D_INPUT;
		st->queue = i == VIRTIO_SND_STREAM_OUT ? VIRTIO_SND_TXQ : VIRTIO_SND_RXQ;
		/* Until SET_PARAMS; keeps every division defined. */
		st->frame_bytes = 1;
		st->bytes_per_sec = 1;
		dev_watch_init(&st->timer, fd, EPOLLIN);
	}
	if (!ret)
		ret = dev_resched_init(&s->resched);
	if (ret) {
		avp_err("virtio-sound: timerfd/eventfd: %s", strerror(-ret));
		goto fail;
	}
	s->rx_buf = malloc(VIRTIO_SND_MAX_IO_BYTES);
	if (!s->rx_buf) {
		ret = -ENOMEM;
		goto fail;
	}
	if (cfg->out_path) {
		ret = wav_writer_open(&s->sink, cfg->out_path); /* says why itself */
		if (ret)
			goto fail;
	}
	if (cfg->in_path) {
		ret = wav_source_open(&s->source, cfg->in_path); /* says why itself */
		if (ret)
			goto fail;
	}
	s->config.jacks = htole32(VIRTIO_SND_NUM_JACKS);
	s->config.streams = htole32(VIRTIO_SND_NUM_STREAMS);
	s->config.chmaps = htole32(VIRTIO_SND_NUM_CHMAPS);
	virtio_dev_init(&s->dev, &vsnd_ops, s, &s->config, sizeof(s->config));
	*out = &s->dev;
	return 0;
fail:
	for (unsigned int i = 0; i < VIRTIO_SND_NUM_STREAMS; i++)
		if (s->streams[i].timer.fd >= 0)
			close(s->streams[i].timer.fd);
	dev_resched_fini(&s->resched);
	wav_writer_close(s->sink);
	wav_source_close(s->source);
	free(s->rx_buf);
	free(s);
	return ret;
}
