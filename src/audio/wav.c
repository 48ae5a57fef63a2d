/* WAV sink and looping WAV source (include/avp/audio/wav.h).
 *
 * The RIFF/WAVE layout: a "RIFF" chunk of form "WAVE" holding a "fmt "
 * chunk (WAVE_FORMAT_PCM 1, WAVE_FORMAT_IEEE_FLOAT 3 or
 * WAVE_FORMAT_EXTENSIBLE 0xfffe whose sub-format GUID names one of those)
 * and a "data" chunk of interleaved little-endian frames. Chunks are padded
 * to even sizes. Sizes are 32-bit, so the sink stops at 4 GiB.
 *
 * The file a source reads is the host user's, not the guest's, but it is
 * still parsed defensively: every size is checked against the file's real
 * length and the chunk walk always moves forward. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "avp/audio/wav.h"
#include "avp/le.h"
#include "avp/fdio.h"
#include "avp/log.h"
#include "avp/outfile.h"

#define WAVE_FORMAT_PCM 1
#define WAVE_FORMAT_IEEE_FLOAT 3
#define WAVE_FORMAT_EXTENSIBLE 0xfffe

/* Header of a new file: RIFF(12) + "fmt "(8 + 16) + "data"(8) for integer
 * PCM; float adds cbSize to "fmt " and a "fact" chunk (frame count), which
 * the format asks for with every non-PCM tag. */
#define WAV_PCM_HEADER 44u
#define WAV_FLOAT_HEADER 58u

/* Frames a source decodes per file read. */
#define WAV_CACHE_FRAMES 4096u

unsigned int audio_sample_bytes(enum audio_sample_fmt s)
{
	switch (s) {
	case AUDIO_FMT_U8:
		return 1;
	case AUDIO_FMT_S16:
		return 2;
	case AUDIO_FMT_S24_3:
		return 3;
	case AUDIO_FMT_S32:
	case AUDIO_FMT_F32:
		return 4;
	case AUDIO_FMT_F64:
		return 8;
	}
	return 0;
}

size_t audio_frame_bytes(const struct audio_format *f)
{
	return (size_t)audio_sample_bytes(f->sample) * f->channels;
}

bool audio_format_equal(const struct audio_format *a, const struct audio_format *b)
{
	return a->sample == b->sample && a->rate == b->rate && a->channels == b->channels;
}

void audio_silence(const struct audio_format *f, void *buf, size_t frames)
{
	/* Unsigned 8-bit is centred on 0x80; every other format's zero (float
	 * 0.0 included) is all-zero bytes. */
	memset(buf, f->sample == AUDIO_FMT_U8 ? 0x80 : 0, frames * audio_frame_bytes(f));
}

static bool sink_format_ok(const struct audio_format *f)
{
	return (f->sample == AUDIO_FMT_U8 || f->sample == AUDIO_FMT_S16 ||
		f->sample == AUDIO_FMT_S32 || f->sample == AUDIO_FMT_F32) &&
	       f->channels >= 1 && f->channels <= WAV_MAX_CHANNELS && f->rate >= WAV_MIN_RATE &&
	       f->rate <= WAV_MAX_RATE;
}

/* Reads up to len bytes at off; returns bytes read (short only at end of
 * file) or -errno. */
static ssize_t pread_full(int fd, void *buf, size_t len, off_t off)
{
	uint8_t *p = buf;
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, p + done, len - done, off + (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

/* ---- sink ---- */

struct wav_writer {
	int fd;
	char *path;
	bool has_format;
	struct audio_format fmt;
	uint32_t data_offset; /* where the frames start */
	uint64_t data_bytes;
	uint64_t max_data; /* frames that still fit 32-bit RIFF sizes */
};

int wav_writer_open(struct wav_writer **out, const char *path)
{
	struct wav_writer *w = calloc(1, sizeof(*w));

	if (!w)
		return -ENOMEM;
	w->path = strdup(path);
	if (!w->path) {
		free(w);
		return -ENOMEM;
	}
	w->fd = avp_open_output("sound output", path); /* says why itself */
	if (w->fd < 0) {
		int ret = w->fd;

		free(w->path);
		free(w);
		return ret;
	}
	*out = w;
	return 0;
}

static size_t build_header(const struct wav_writer *w, uint8_t *h)
{
	const struct audio_format *f = &w->fmt;
	bool is_float = f->sample == AUDIO_FMT_F32;
	uint32_t frame = (uint32_t)audio_frame_bytes(f);
	uint32_t data = (uint32_t)w->data_bytes;
	size_t len = is_float ? WAV_FLOAT_HEADER : WAV_PCM_HEADER;
	uint8_t *p = h;

	memcpy(p, "RIFF", 4);
	put_le32(p + 4, (uint32_t)(len - 8 + data));
	memcpy(p + 8, "WAVE", 4);
	p += 12;
	memcpy(p, "fmt ", 4);
	put_le32(p + 4, is_float ? 18 : 16);
	put_le16(p + 8, is_float ? WAVE_FORMAT_IEEE_FLOAT : WAVE_FORMAT_PCM);
	put_le16(p + 10, (uint16_t)f->channels);
	put_le32(p + 12, f->rate);
	put_le32(p + 16, f->rate * frame);
	put_le16(p + 20, (uint16_t)frame);
	put_le16(p + 22, (uint16_t)(audio_sample_bytes(f->sample) * 8));
	p += 24;
	if (is_float) {
		put_le16(p, 0); /* cbSize */
		p += 2;
		memcpy(p, "fact", 4);
		put_le32(p + 4, 4);
		put_le32(p + 8, data / frame);
		p += 12;
	}
	memcpy(p, "data", 4);
	put_le32(p + 4, data);
	return len;
}

static void writer_fix_format(struct wav_writer *w, const struct audio_format *f)
{
	size_t frame = audio_frame_bytes(f);

	w->fmt = *f;
	w->has_format = true;
	w->data_offset = f->sample == AUDIO_FMT_F32 ? WAV_FLOAT_HEADER : WAV_PCM_HEADER;
	/* RIFF size = data_offset - 8 + data_bytes must fit 32 bits. */
	w->max_data = (UINT32_MAX - (w->data_offset - 8u)) / frame * frame;
}

int wav_writer_set_format(struct wav_writer *w, const struct audio_format *f)
{
	if (!sink_format_ok(f))
		return -EINVAL;
	if (w->has_format)
		return audio_format_equal(&w->fmt, f) ? 0 : -EINVAL;
	writer_fix_format(w, f);
	return wav_writer_finish(w);
}

bool wav_writer_has_format(const struct wav_writer *w)
{
	return w->has_format;
}

int wav_writer_writev(struct wav_writer *w, const struct iovec *iov, unsigned int n)
{
	uint64_t total = 0;
	off_t off;

	if (!w->has_format)
		return -EINVAL;
	for (unsigned int i = 0; i < n; i++)
		total += iov[i].iov_len;
	if (total % audio_frame_bytes(&w->fmt))
		return -EINVAL;
	if (total > w->max_data - w->data_bytes)
		return -EFBIG;
	off = (off_t)(w->data_offset + w->data_bytes);
	for (unsigned int i = 0; i < n; i++) {
		int ret = avp_pwrite_all(w->fd, iov[i].iov_base, iov[i].iov_len, off);

		/* data_bytes has not moved: the next write overwrites the
		 * partial one, so the file never counts half a message. */
		if (ret)
			return ret;
		off += (off_t)iov[i].iov_len;
	}
	w->data_bytes += total;
	return 0;
}

int wav_writer_finish(struct wav_writer *w)
{
	uint8_t h[WAV_FLOAT_HEADER];
	size_t len;

	if (!w->has_format) {
		/* Nothing was ever played: still leave a valid (empty) WAV. */
		struct audio_format def = { AUDIO_FMT_S16, 48000, 2 };
		struct wav_writer tmp = *w;

		writer_fix_format(&tmp, &def);
		len = build_header(&tmp, h);
	} else {
		len = build_header(w, h);
	}
	return avp_pwrite_all(w->fd, h, len, 0);
}

uint64_t wav_writer_data_bytes(const struct wav_writer *w)
{
	return w->data_bytes;
}

void wav_writer_close(struct wav_writer *w)
{
	int ret;

	if (!w)
		return;
	ret = wav_writer_finish(w);
	if (ret)
		avp_warn("%s: cannot finish the WAV header: %s", w->path, strerror(-ret));
	if (close(w->fd))
		avp_warn("%s: close: %s", w->path, strerror(errno));
	free(w->path);
	free(w);
}

/* ---- source ---- */

struct wav_source {
	int fd;
	char *path;
	struct audio_format fmt;
	size_t frame_bytes;
	uint64_t data_offset;
	uint64_t frames;
	double pos; /* next source frame, fractional when resampling */
	bool err_logged;
	/* Decoded frames [cache_first, cache_first + cache_n). */
	uint64_t cache_first;
	size_t cache_n;
	double *cache;
	uint8_t *raw;
};

static const uint8_t ksdata_guid_tail[14] = { 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80,
					      0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71 };

static int parse_fmt(struct wav_source *s, const uint8_t *c, uint32_t size)
{
	uint16_t tag, channels, align, bits;
	uint32_t rate;

	if (size < 16)
		return -EINVAL;
	tag = get_le16(c);
	channels = get_le16(c + 2);
	rate = get_le32(c + 4);
	align = get_le16(c + 12);
	bits = get_le16(c + 14);
	if (tag == WAVE_FORMAT_EXTENSIBLE) {
		/* cbSize 22: valid bits, channel mask, sub-format GUID whose
		 * first two bytes are the real tag. */
		if (size < 40 || memcmp(c + 26, ksdata_guid_tail, sizeof(ksdata_guid_tail)) != 0)
			return -EINVAL;
		tag = get_le16(c + 24);
	}
	if (tag == WAVE_FORMAT_PCM && bits == 8)
		s->fmt.sample = AUDIO_FMT_U8;
	else if (tag == WAVE_FORMAT_PCM && bits == 16)
		s->fmt.sample = AUDIO_FMT_S16;
	else if (tag == WAVE_FORMAT_PCM && bits == 24)
		s->fmt.sample = AUDIO_FMT_S24_3;
	else if (tag == WAVE_FORMAT_PCM && bits == 32)
		s->fmt.sample = AUDIO_FMT_S32;
	else if (tag == WAVE_FORMAT_IEEE_FLOAT && bits == 32)
		s->fmt.sample = AUDIO_FMT_F32;
	else if (tag == WAVE_FORMAT_IEEE_FLOAT && bits == 64)
		s->fmt.sample = AUDIO_FMT_F64;
	else
		return -EINVAL;
	if (channels < 1 || channels > WAV_MAX_CHANNELS || rate < WAV_MIN_RATE ||
	    rate > WAV_MAX_RATE)
		return -EINVAL;
	s->fmt.channels = channels;
	s->fmt.rate = rate;
	s->frame_bytes = audio_frame_bytes(&s->fmt);
	return align == s->frame_bytes ? 0 : -EINVAL;
}

static int parse_wav(struct wav_source *s, const char **why)
{
	struct stat st;
	uint8_t hdr[12];
	uint8_t fmt[40];
	uint64_t off = 12, file_size, data_size = 0;
	bool have_fmt = false, have_data = false;
	ssize_t n;

	if (fstat(s->fd, &st))
		return -errno;
	file_size = (uint64_t)st.st_size;
	n = pread_full(s->fd, hdr, sizeof(hdr), 0);
	if (n < 0)
		return (int)n;
	if (n < 12 || memcmp(hdr, "RIFF", 4) || memcmp(hdr + 8, "WAVE", 4)) {
		*why = "not a RIFF/WAVE file";
		return -EINVAL;
	}
	/* Each step moves past a chunk header, so the walk ends. */
	while (off + 8 <= file_size && !(have_fmt && have_data)) {
		uint8_t ch[8];
		uint32_t size;

		n = pread_full(s->fd, ch, sizeof(ch), (off_t)off);
		if (n < 0)
			return (int)n;
		if (n < 8)
			break;
		size = get_le32(ch + 4);
		if (!memcmp(ch, "fmt ", 4) && !have_fmt) {
			uint32_t want = size < sizeof(fmt) ? size : (uint32_t)sizeof(fmt);

			n = pread_full(s->fd, fmt, want, (off_t)(off + 8));
			if (n < 0)
				return (int)n;
			if ((uint32_t)n < want || parse_fmt(s, fmt, want)) {
				*why = "unsupported format (want 8/16/24/32-bit PCM or 32/64-bit float, "
				       "1-8 channels, 1000-768000 Hz)";
				return -EINVAL;
			}
			have_fmt = true;
		} else if (!memcmp(ch, "data", 4) && !have_data) {
			s->data_offset = off + 8;
			/* A streamed file may say 0 or 0xffffffff: trust the
			 * file's length over the header. */
			data_size = file_size - s->data_offset;
			if (size != 0 && size != UINT32_MAX && size < data_size)
				data_size = size;
			have_data = true;
		}
		off += 8 + (uint64_t)size + (size & 1);
	}
	if (!have_fmt || !have_data) {
		*why = have_fmt ? "no data chunk" : "no fmt chunk";
		return -EINVAL;
	}
	s->frames = data_size / s->frame_bytes;
	if (s->frames == 0) {
		*why = "no audio frames";
		return -EINVAL;
	}
	return 0;
}

int wav_source_open(struct wav_source **out, const char *path)
{
	struct wav_source *s = calloc(1, sizeof(*s));
	const char *why = NULL;
	int ret;

	if (!s)
		return -ENOMEM;
	s->path = strdup(path);
	s->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (!s->path || s->fd < 0) {
		ret = s->path ? -errno : -ENOMEM;
		avp_err("sound input %s: cannot open: %s", path, strerror(-ret));
		goto fail;
	}
	ret = parse_wav(s, &why);
	if (ret) {
		avp_err("sound input %s: %s", path, why ? why : strerror(-ret));
		goto fail;
	}
	s->cache = calloc((size_t)WAV_CACHE_FRAMES * s->fmt.channels, sizeof(double));
	s->raw = malloc(WAV_CACHE_FRAMES * s->frame_bytes);
	if (!s->cache || !s->raw) {
		ret = -ENOMEM;
		goto fail;
	}
	*out = s;
	return 0;
fail:
	wav_source_close(s);
	return ret;
}

const struct audio_format *wav_source_format(const struct wav_source *s)
{
	return &s->fmt;
}

uint64_t wav_source_frames(const struct wav_source *s)
{
	return s->frames;
}

static double get_sample(enum audio_sample_fmt f, const uint8_t *p)
{
	uint32_t u;
	uint64_t u64;
	int32_t v;
	float fl;
	double d;

	switch (f) {
	case AUDIO_FMT_U8:
		return ((int)p[0] - 128) / 128.0;
	case AUDIO_FMT_S16:
		return (int16_t)get_le16(p) / 32768.0;
	case AUDIO_FMT_S24_3:
		u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16;
		v = (int32_t)(u << 8) >> 8;
		return v / 8388608.0;
	case AUDIO_FMT_S32:
		return (int32_t)get_le32(p) / 2147483648.0;
	case AUDIO_FMT_F32:
		u = get_le32(p);
		memcpy(&fl, &u, 4);
		return isfinite(fl) ? fl : 0.0;
	case AUDIO_FMT_F64:
		memcpy(&u64, p, 8);
		u64 = le64toh(u64);
		memcpy(&d, &u64, 8);
		return isfinite(d) ? d : 0.0;
	}
	return 0.0;
}

static void put_sample(enum audio_sample_fmt f, uint8_t *p, double v)
{
	long long x;
	float fl;
	uint32_t u;

	if (v > 1.0)
		v = 1.0;
	if (v < -1.0)
		v = -1.0;
	switch (f) {
	case AUDIO_FMT_U8:
		x = llrint(v * 128.0) + 128;
		p[0] = (uint8_t)(x > 255 ? 255 : x);
		break;
	case AUDIO_FMT_S16:
		x = llrint(v * 32768.0);
		put_le16(p, (uint16_t)(int16_t)(x > 32767 ? 32767 : x));
		break;
	case AUDIO_FMT_S32:
		x = llrint(v * 2147483648.0);
		put_le32(p, (uint32_t)(int32_t)(x > INT32_MAX ? INT32_MAX : x));
		break;
	case AUDIO_FMT_F32:
		fl = (float)v;
		memcpy(&u, &fl, 4);
		put_le32(p, u);
		break;
	case AUDIO_FMT_S24_3:
	case AUDIO_FMT_F64:
		break; /* not produced (wav_source_read refuses them) */
	}
}

/* Points *frame at the decoded source frame idx (< s->frames). */
static int source_frame(struct wav_source *s, uint64_t idx, const double **frame)
{
	if (idx < s->cache_first || idx >= s->cache_first + s->cache_n) {
		uint64_t left = s->frames - idx;
		size_t want = left < WAV_CACHE_FRAMES ? (size_t)left : WAV_CACHE_FRAMES;
		ssize_t n = pread_full(s->fd, s->raw, want * s->frame_bytes,
				       (off_t)(s->data_offset + idx * s->frame_bytes));
		size_t got;

		s->cache_n = 0;
		if (n < 0)
			return (int)n;
		got = (size_t)n / s->frame_bytes;
		/* The file shrank under us. */
		if (got == 0)
			return -EIO;
		for (size_t i = 0; i < got * s->fmt.channels; i++)
			s->cache[i] = get_sample(s->fmt.sample,
						 s->raw + i * audio_sample_bytes(s->fmt.sample));
		s->cache_first = idx;
		s->cache_n = got;
	}
	*frame = s->cache + (idx - s->cache_first) * s->fmt.channels;
	return 0;
}

int wav_source_read(struct wav_source *s, const struct audio_format *dst, void *out,
		    size_t frames)
{
	uint8_t *o = out;
	size_t dst_frame = audio_frame_bytes(dst);
	unsigned int sbytes = audio_sample_bytes(dst->sample);
	uint32_t sch = s->fmt.channels, dch = dst->channels;
	/* Source frames per output frame; exactly 1.0 when the rates match,
	 * so positions stay integral and samples are copied unchanged. */
	double step = (double)s->fmt.rate / dst->rate;

	if (!sink_format_ok(dst))
		return -EINVAL;
	for (size_t k = 0; k < frames; k++) {
		uint64_t i = (uint64_t)s->pos;
		double frac = s->pos - (double)i;
		double v[WAV_MAX_CHANNELS];
		const double *a, *b;
		int ret = source_frame(s, i, &a);

		if (ret == 0) {
			memcpy(v, a, sch * sizeof(double));
			if (frac > 0.0)
				ret = source_frame(s, (i + 1) % s->frames, &b);
			for (uint32_t c = 0; ret == 0 && frac > 0.0 && c < sch; c++)
				v[c] += (b[c] - v[c]) * frac;
		}
		if (ret) {
			if (!s->err_logged)
				avp_warn("%s: read: %s (recording silence)", s->path, strerror(-ret));
			s->err_logged = true;
			audio_silence(dst, o + k * dst_frame, frames - k);
			return ret;
		}
		for (uint32_t c = 0; c < dch; c++) {
			double x;

			if (dch == sch) {
				x = v[c];
			} else if (dch == 1) { /* down-mix: the mean */
				x = 0.0;
				for (uint32_t j = 0; j < sch; j++)
					x += v[j];
				x /= sch;
			} else { /* mono spread, or channels reused in turn */
				x = v[c % sch];
			}
			put_sample(dst->sample, o + k * dst_frame + c * sbytes, x);
		}
		s->pos += step;
		if (s->pos >= (double)s->frames)
			s->pos = fmod(s->pos, (double)s->frames);
	}
	return 0;
}

void wav_source_close(struct wav_source *s)
{
	if (!s)
		return;
	if (s->fd >= 0)
		close(s->fd);
	free(s->cache);
	free(s->raw);
	free(s->path);
	free(s);
}
