/* The WAV sink and source behind virtio-sound: headers written and patched,
 * files parsed (and refused) correctly, samples converted between formats,
 * channel counts and rates, looping at the end of the file. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "avp/audio/wav.h"

struct fixture {
	char dir[64];
	char path[96];
};

static int setup(void **state)
{
	static struct fixture f;

	strcpy(f.dir, "/tmp/avp-wav-test.XXXXXX");
	assert_non_null(mkdtemp(f.dir));
	snprintf(f.path, sizeof(f.path), "%s/t.wav", f.dir);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	unlink(f->path);
	rmdir(f->dir);
	return 0;
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

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

struct wav_spec {
	uint16_t tag; /* 1 PCM, 3 float, 0xfffe extensible */
	uint16_t sub_tag;
	uint16_t channels;
	uint32_t rate;
	uint16_t bits;
	uint16_t align; /* 0: channels * bits / 8 */
	bool junk_before_data; /* an odd-sized LIST chunk (padding byte) */
	bool no_data;
	int32_t data_size_field; /* -1: the real size */
};

static void write_wav(const char *path, const struct wav_spec *s, const void *data, size_t len)
{
	uint8_t h[128];
	size_t n = 12;
	uint16_t align = s->align ? s->align : (uint16_t)(s->channels * s->bits / 8);
	FILE *fp = fopen(path, "wb");
	uint32_t fmt_len = s->tag == 0xfffe ? 40 : 16;

	assert_non_null(fp);
	memcpy(h, "RIFF", 4);
	memcpy(h + 8, "WAVE", 4);
	memcpy(h + n, "fmt ", 4);
	put32(h + n + 4, fmt_len);
	put16(h + n + 8, s->tag);
	put16(h + n + 10, s->channels);
	put32(h + n + 12, s->rate);
	put32(h + n + 16, s->rate * align);
	put16(h + n + 20, align);
	put16(h + n + 22, s->bits);
	if (s->tag == 0xfffe) {
		static const uint8_t tail[14] = { 0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xaa, 0, 0x38, 0x9b, 0x71 };

		put16(h + n + 24, 22);
		put16(h + n + 26, s->bits);
		put32(h + n + 28, 0);
		put16(h + n + 32, s->sub_tag);
		memcpy(h + n + 34, tail, sizeof(tail));
	}
	n += 8 + fmt_len;
	if (s->junk_before_data) {
		memcpy(h + n, "LIST", 4);
		put32(h + n + 4, 3);
		memcpy(h + n + 8, "abc", 3);
		h[n + 11] = 0; /* pad byte */
		n += 12;
	}
	if (!s->no_data) {
		memcpy(h + n, "data", 4);
		put32(h + n + 4, s->data_size_field >= 0 ? (uint32_t)s->data_size_field : (uint32_t)len);
		n += 8;
	}
	put32(h + 4, (uint32_t)(n - 8 + len));
	assert_int_equal(fwrite(h, 1, n, fp), n);
	if (len)
		assert_int_equal(fwrite(data, 1, len, fp), len);
	fclose(fp);
}

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *buf;
	long n;

	assert_non_null(fp);
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	*len = (size_t)n;
	return buf;
}

/* ---- sink ---- */

static void test_writer_pcm_and_patching(void **state)
{
	struct fixture *f = *state;
	struct wav_writer *w;
	struct audio_format fmt = { AUDIO_FMT_S16, 44100, 2 }, other = { AUDIO_FMT_S16, 48000, 2 };
	int16_t a[8] = { 1, -1, 2, -2, 3, -3, 4, -4 }, b[4] = { 100, 200, 300, 400 };
	struct iovec v[2] = { { a, sizeof(a) }, { b, sizeof(b) } };
	struct iovec half = { a, 2 };
	uint8_t *buf;
	size_t n;

	assert_int_equal(wav_writer_open(&w, f->path), 0);
	assert_false(wav_writer_has_format(w));
	assert_int_equal(wav_writer_writev(w, v, 1), -EINVAL); /* no format yet */
	assert_int_equal(wav_writer_set_format(w, &fmt), 0);
	assert_int_equal(wav_writer_set_format(w, &fmt), 0);
	assert_int_equal(wav_writer_set_format(w, &other), -EINVAL);
	/* The header is on disk as soon as the format is known. */
	buf = slurp(f->path, &n);
	assert_int_equal(n, 44);
	assert_int_equal(get32(buf + 40), 0);
	free(buf);
	assert_int_equal(wav_writer_writev(w, v, 2), 0);
	assert_int_equal(wav_writer_writev(w, &half, 1), -EINVAL); /* half a frame */
	assert_int_equal(wav_writer_data_bytes(w), sizeof(a) + sizeof(b));
	wav_writer_close(w);

	buf = slurp(f->path, &n);
	assert_int_equal(n, 44 + sizeof(a) + sizeof(b));
	assert_memory_equal(buf, "RIFF", 4);
	assert_int_equal(get32(buf + 4), n - 8);
	assert_memory_equal(buf + 8, "WAVEfmt ", 8);
	assert_int_equal(get32(buf + 16), 16);
	assert_int_equal(get16(buf + 20), 1);
	assert_int_equal(get16(buf + 22), 2);
	assert_int_equal(get32(buf + 24), 44100);
	assert_int_equal(get32(buf + 28), 44100 * 4);
	assert_int_equal(get16(buf + 32), 4);
	assert_int_equal(get16(buf + 34), 16);
	assert_int_equal(get32(buf + 40), sizeof(a) + sizeof(b));
	assert_memory_equal(buf + 44, a, sizeof(a));
	assert_memory_equal(buf + 44 + sizeof(a), b, sizeof(b));
	free(buf);
}

static void test_writer_float_and_empty(void **state)
{
	struct fixture *f = *state;
	struct wav_writer *w;
	struct audio_format fmt = { AUDIO_FMT_F32, 48000, 1 };
	struct audio_format bad = { AUDIO_FMT_S24_3, 48000, 1 };
	float x[3] = { 0.5f, -0.25f, 1.0f };
	struct iovec v = { x, sizeof(x) };
	uint8_t *buf;
	size_t n;

	/* Never given a format: still a valid, empty WAV. */
	assert_int_equal(wav_writer_open(&w, f->path), 0);
	wav_writer_close(w);
	buf = slurp(f->path, &n);
	assert_int_equal(n, 44);
	assert_int_equal(get16(buf + 20), 1);
	assert_int_equal(get32(buf + 40), 0);
	free(buf);

	assert_int_equal(wav_writer_open(&w, f->path), 0);
	assert_int_equal(wav_writer_set_format(w, &bad), -EINVAL);
	assert_int_equal(wav_writer_set_format(w, &fmt), 0);
	assert_int_equal(wav_writer_writev(w, &v, 1), 0);
	assert_int_equal(wav_writer_finish(w), 0);
	wav_writer_close(w);
	buf = slurp(f->path, &n);
	assert_int_equal(n, 58 + sizeof(x));
	assert_int_equal(get32(buf + 4), n - 8);
	assert_int_equal(get32(buf + 16), 18);	 /* fmt with cbSize */
	assert_int_equal(get16(buf + 20), 3);	 /* IEEE float */
	assert_int_equal(get16(buf + 34), 32);
	assert_memory_equal(buf + 38, "fact", 4);
	assert_int_equal(get32(buf + 46), 3);	 /* frames */
	assert_memory_equal(buf + 50, "data", 4);
	assert_int_equal(get32(buf + 54), sizeof(x));
	assert_memory_equal(buf + 58, x, sizeof(x));
	free(buf);
}

/* ---- source ---- */

static void test_source_exact_and_loops(void **state)
{
	struct fixture *f = *state;
	struct wav_spec s = { .tag = 1, .channels = 1, .rate = 48000, .bits = 16,
			      .junk_before_data = true, .data_size_field = -1 };
	int16_t in[3] = { 1000, -2000, 32767 }, out[10];
	struct audio_format dst = { AUDIO_FMT_S16, 48000, 1 };
	struct wav_source *src;

	write_wav(f->path, &s, in, sizeof(in));
	assert_int_equal(wav_source_open(&src, f->path), 0);
	assert_int_equal(wav_source_frames(src), 3);
	assert_int_equal(wav_source_format(src)->sample, AUDIO_FMT_S16);
	assert_int_equal(wav_source_read(src, &dst, out, 4), 0);
	assert_int_equal(wav_source_read(src, &dst, out + 4, 6), 0);
	for (int i = 0; i < 10; i++)
		assert_int_equal(out[i], in[i % 3]);
	wav_source_close(src);
}

static void test_source_converts_formats(void **state)
{
	struct fixture *f = *state;
	struct wav_source *src;
	/* 24-bit stereo at 24 kHz, constant L = +0.5, R = -0.25. */
	uint8_t d24[4 * 6];
	struct wav_spec s24 = { .tag = 1, .channels = 2, .rate = 24000, .bits = 24,
				.data_size_field = -1 };
	struct audio_format mono16 = { AUDIO_FMT_S16, 48000, 1 };
	struct audio_format f32 = { AUDIO_FMT_F32, 48000, 2 };
	struct audio_format u8 = { AUDIO_FMT_U8, 8000, 1 };
	struct audio_format s32 = { AUDIO_FMT_S32, 96000, 2 };
	int16_t m[16];
	float fl[8];
	uint8_t u[4];
	int32_t w[4];

	for (int i = 0; i < 4; i++) {
		uint32_t l = 0x400000, r = (uint32_t)-0x200000;

		memcpy(d24 + i * 6, &l, 3);
		memcpy(d24 + i * 6 + 3, &r, 3);
	}
	write_wav(f->path, &s24, d24, sizeof(d24));
	assert_int_equal(wav_source_open(&src, f->path), 0);
	assert_int_equal(wav_source_format(src)->sample, AUDIO_FMT_S24_3);
	assert_int_equal(wav_source_format(src)->rate, 24000);
	/* Down-mixed (the mean), up-sampled (DC stays DC). */
	assert_int_equal(wav_source_read(src, &mono16, m, 16), 0);
	for (int i = 0; i < 16; i++)
		assert_int_equal(m[i], 4096);
	assert_int_equal(wav_source_read(src, &f32, fl, 4), 0);
	for (int i = 0; i < 4; i++) {
		assert_true(fl[2 * i] == 0.5f);
		assert_true(fl[2 * i + 1] == -0.25f);
	}
	assert_int_equal(wav_source_read(src, &u8, u, 4), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(u[i], 128 + 16);
	assert_int_equal(wav_source_read(src, &s32, w, 2), 0);
	assert_int_equal(w[0], 0x40000000);
	assert_int_equal(w[1], -0x20000000);
	/* Formats a source cannot produce. */
	{
		struct audio_format packed24 = { AUDIO_FMT_S24_3, 48000, 1 };

		assert_int_equal(wav_source_read(src, &packed24, w, 1), -EINVAL);
	}
	wav_source_close(src);
}

static void test_source_u8_float_extensible(void **state)
{
	struct fixture *f = *state;
	struct wav_source *src;
	struct audio_format s16 = { AUDIO_FMT_S16, 8000, 1 };
	struct audio_format stereo = { AUDIO_FMT_S16, 8000, 2 };
	uint8_t u[3] = { 0, 128, 255 };
	double d[2] = { 0.25, 2.0 /* clipped */ };
	int16_t out[6];
	struct wav_spec su8 = { .tag = 1, .channels = 1, .rate = 8000, .bits = 8,
				.data_size_field = -1 };
	struct wav_spec sf64 = { .tag = 0xfffe, .sub_tag = 3, .channels = 1, .rate = 8000,
				 .bits = 64, .data_size_field = -1 };

	write_wav(f->path, &su8, u, sizeof(u));
	assert_int_equal(wav_source_open(&src, f->path), 0);
	assert_int_equal(wav_source_read(src, &s16, out, 3), 0);
	assert_int_equal(out[0], -32768);
	assert_int_equal(out[1], 0);
	assert_int_equal(out[2], 127 * 256);
	wav_source_close(src);

	write_wav(f->path, &sf64, d, sizeof(d));
	assert_int_equal(wav_source_open(&src, f->path), 0);
	assert_int_equal(wav_source_format(src)->sample, AUDIO_FMT_F64);
	/* Mono spread to both channels; out of range clipped. */
	assert_int_equal(wav_source_read(src, &stereo, out, 2), 0);
	assert_int_equal(out[0], 8192);
	assert_int_equal(out[1], 8192);
	assert_int_equal(out[2], 32767);
	assert_int_equal(out[3], 32767);
	wav_source_close(src);
}

static void test_source_resamples_a_tone(void **state)
{
	struct fixture *f = *state;
	struct wav_spec s = { .tag = 1, .channels = 1, .rate = 44100, .bits = 16,
			      .data_size_field = -1 };
	struct audio_format dst = { AUDIO_FMT_S16, 48000, 1 };
	static int16_t in[44100], out[48000];
	struct wav_source *src;
	int crossings = 0;

	for (int i = 0; i < 44100; i++)
		in[i] = (int16_t)lrint(16000.0 * sin(2.0 * M_PI * 1000.0 * i / 44100.0 + 0.3));
	write_wav(f->path, &s, in, sizeof(in));
	assert_int_equal(wav_source_open(&src, f->path), 0);
	assert_int_equal(wav_source_read(src, &dst, out, 48000), 0);
	for (int i = 1; i < 48000; i++)
		crossings += (out[i - 1] < 0) != (out[i] < 0);
	/* One second of 1 kHz: 2000 sign changes, whatever the rate. */
	assert_in_range(crossings, 1996, 2004);
	wav_source_close(src);
}

static void test_source_refuses_bad_files(void **state)
{
	struct fixture *f = *state;
	struct wav_source *src = NULL;
	int16_t pcm[4] = { 0 };
	const struct wav_spec bad[] = {
		{ .tag = 1, .channels = 1, .rate = 48000, .bits = 12, .data_size_field = -1 },
		{ .tag = 2, .channels = 1, .rate = 48000, .bits = 16, .data_size_field = -1 },
		{ .tag = 3, .channels = 1, .rate = 48000, .bits = 16, .data_size_field = -1 },
		{ .tag = 1, .channels = 0, .rate = 48000, .bits = 16, .data_size_field = -1 },
		{ .tag = 1, .channels = 9, .rate = 48000, .bits = 16, .data_size_field = -1 },
		{ .tag = 1, .channels = 1, .rate = 500, .bits = 16, .data_size_field = -1 },
		{ .tag = 1, .channels = 1, .rate = 1000000, .bits = 16, .data_size_field = -1 },
		{ .tag = 1, .channels = 2, .rate = 48000, .bits = 16, .align = 2,
		  .data_size_field = -1 },
		{ .tag = 0xfffe, .sub_tag = 2, .channels = 1, .rate = 48000, .bits = 16,
		  .data_size_field = -1 },
		{ .tag = 1, .channels = 1, .rate = 48000, .bits = 16, .no_data = true,
		  .data_size_field = -1 },
	};
	struct wav_spec empty = { .tag = 1, .channels = 1, .rate = 48000, .bits = 16,
				  .data_size_field = -1 };
	FILE *fp;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_wav(f->path, &bad[i], pcm, sizeof(pcm));
		assert_int_equal(wav_source_open(&src, f->path), -EINVAL);
	}
	/* No frames at all (looping it would never end). */
	write_wav(f->path, &empty, NULL, 0);
	assert_int_equal(wav_source_open(&src, f->path), -EINVAL);
	/* Truncated in the middle of the RIFF header, and not RIFF. */
	fp = fopen(f->path, "wb");
	fwrite("RIFF\x10\0\0\0WA", 1, 10, fp);
	fclose(fp);
	assert_int_equal(wav_source_open(&src, f->path), -EINVAL);
	fp = fopen(f->path, "wb");
	fwrite("RIFX\x10\0\0\0WAVEfmt ", 1, 16, fp);
	fclose(fp);
	assert_int_equal(wav_source_open(&src, f->path), -EINVAL);
	assert_int_equal(wav_source_open(&src, "/nonexistent/in.wav"), -ENOENT);
}

static void test_source_trusts_file_length(void **state)
{
	struct fixture *f = *state;
	struct wav_spec s = { .tag = 1, .channels = 1, .rate = 48000, .bits = 16,
			      .data_size_field = 0x7fffffff };
	int16_t pcm[5] = { 1, 2, 3, 4, 5 }, out[7];
	struct audio_format dst = { AUDIO_FMT_S16, 48000, 1 };
	struct wav_source *src;

	/* The header claims 2 GiB; the file holds 5 frames (plus a byte). */
	write_wav(f->path, &s, pcm, sizeof(pcm));
	{
		FILE *fp = fopen(f->path, "ab");

		fputc(9, fp);
		fclose(fp);
	}
	assert_int_equal(wav_source_open(&src, f->path), 0);
	assert_int_equal(wav_source_frames(src), 5);
	assert_int_equal(wav_source_read(src, &dst, out, 7), 0);
	assert_int_equal(out[5], 1);
	assert_int_equal(out[6], 2);
	wav_source_close(src);
}

static void test_silence(void **state)
{
	uint8_t b[8];
	struct audio_format u8 = { AUDIO_FMT_U8, 8000, 2 }, s16 = { AUDIO_FMT_S16, 8000, 2 };

	(void)state;
	audio_silence(&u8, b, 4);
	for (int i = 0; i < 8; i++)
		assert_int_equal(b[i], 0x80);
	audio_silence(&s16, b, 2);
	for (int i = 0; i < 8; i++)
		assert_int_equal(b[i], 0);
	assert_int_equal(audio_frame_bytes(&s16), 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_writer_pcm_and_patching, setup, teardown),
		cmocka_unit_test_setup_teardown(test_writer_float_and_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_source_exact_and_loops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_source_converts_formats, setup, teardown),
		cmocka_unit_test_setup_teardown(test_source_u8_float_extensible, setup, teardown),
		cmocka_unit_test_setup_teardown(test_source_resamples_a_tone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_source_refuses_bad_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_source_trusts_file_length, setup, teardown),
		cmocka_unit_test(test_silence),
	};

	return cmocka_run_group_tests_name("wav", tests, NULL, NULL);
}
