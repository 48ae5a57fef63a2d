/* WAV files as the host end of a sound device: a sink that records what a
 * guest plays, and a looping source that a guest records from.
 *
 * Both speak in terms of struct audio_format (interleaved little-endian
 * samples, the only layout VIRTIO sound uses, 5.14.6.6.2). The source
 * converts whatever the file holds (8/16/24/32-bit integer PCM, 32/64-bit
 * float, mono to 8 channels, any rate the parser accepts) to the format the
 * guest asked for: sample format, channel count and rate (linear
 * interpolation). When the file's format is the requested one the samples
 * come out bit-exact. */
#ifndef AVP_AUDIO_WAV_H
#define AVP_AUDIO_WAV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

enum audio_sample_fmt {
	AUDIO_FMT_U8,	 /* unsigned 8-bit, silence 0x80 */
	AUDIO_FMT_S16,	 /* signed 16-bit LE */
	AUDIO_FMT_S24_3, /* signed 24-bit LE in 3 bytes (sources only) */
	AUDIO_FMT_S32,	 /* signed 32-bit LE */
	AUDIO_FMT_F32,	 /* IEEE float LE, [-1.0, 1.0] */
	AUDIO_FMT_F64,	 /* IEEE double LE (sources only) */
};

struct audio_format {
	enum audio_sample_fmt sample;
	uint32_t rate;	   /* frames per second */
	uint32_t channels; /* interleaved */
};

/* What a WAV file we read may hold. Outside these the file is refused. */
#define WAV_MAX_CHANNELS 8
#define WAV_MIN_RATE 1000
#define WAV_MAX_RATE 768000

unsigned int audio_sample_bytes(enum audio_sample_fmt s);
/* Bytes per frame (all channels), 0 for an invalid format. */
size_t audio_frame_bytes(const struct audio_format *f);
bool audio_format_equal(const struct audio_format *a, const struct audio_format *b);
/* Fills frames of silence in format f. */
void audio_silence(const struct audio_format *f, void *buf, size_t frames);

/* ---- sink ---- */

struct wav_writer;

/* Creates (truncates) path. Nothing is written until the format is known:
 * the header goes out with the first wav_writer_set_format(). */
int wav_writer_open(struct wav_writer **out, const char *path);
/* The first call fixes the file's format and writes the header (0). Later
 * calls return 0 when f is that format and -EINVAL otherwise: one WAV file
 * has one format, so data in another cannot be appended. U8, S16, S32 and
 * F32 only. */
int wav_writer_set_format(struct wav_writer *w, const struct audio_format *f);
bool wav_writer_has_format(const struct wav_writer *w);
/* Appends the bytes of iov[0..n) (a whole number of frames, in the file's
 * format), all or nothing. -EFBIG when the data chunk would pass the
 * format's 4 GiB limit (WAV sizes are 32-bit), -EINVAL without a format or
 * for a partial frame, -errno for a write error. */
int wav_writer_writev(struct wav_writer *w, const struct iovec *iov, unsigned int n);
/* Rewrites the header's sizes so the file is a valid WAV as it stands
 * (without a format yet, writes a header for empty 48 kHz S16 stereo). */
int wav_writer_finish(struct wav_writer *w);
uint64_t wav_writer_data_bytes(const struct wav_writer *w);
/* wav_writer_finish, then close and free. */
void wav_writer_close(struct wav_writer *w);

/* ---- source ---- */

struct wav_source;

/* Opens and parses path. -EINVAL (after logging what is wrong) for a file
 * that is not a WAV we can play, or one without any audio frames. */
int wav_source_open(struct wav_source **out, const char *path);
const struct audio_format *wav_source_format(const struct wav_source *s);
uint64_t wav_source_frames(const struct wav_source *s);
/* Produces `frames` frames in format dst (U8, S16, S32 or F32) into out,
 * continuing where the last call stopped and starting again at the top
 * of the file at its end. On a read error the rest is silence and the
 * result is -errno; otherwise 0. */
int wav_source_read(struct wav_source *s, const struct audio_format *dst, void *out,
		    size_t frames);
void wav_source_close(struct wav_source *s);

#endif
