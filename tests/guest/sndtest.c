/* Guest side of the virtio-sound test (tests/realguest/sound.sh), built
 * static into the reference guest by scripts/mkguest. No ALSA library: the
 * kernel's PCM ioctls from <sound/asound.h> directly, and no libm (mkguest
 * links without -lm), hence the small sine below.
 *
 *   sndtest play FREQ FRAMES   play a FREQ Hz sine (half scale) on
 *                              /dev/snd/pcmC0D0p, 48 kHz S16_LE mono, then
 *                              drain; prints how long it took
 *   sndtest rec FRAMES         record FRAMES frames from /dev/snd/pcmC0D0c
 *                              in the same format; prints the dominant
 *                              frequency, the zero-crossing frequency and an
 *                              FNV-1a hash of the bytes for the host
 *
 * Periods of 2400 frames (50 ms), 4 per buffer: few enough interrupts for a
 * nested test host. Exit status 0 on success. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <sound/asound.h>

#define RATE 48000
#define PERIOD_FRAMES 2400
#define PERIODS 4
#define PI 3.14159265358979323846

/* sin(x) for any x: reduce to [-pi/2, pi/2], then a Taylor series whose
 * error there is below 1e-12. */
static double my_sin(double x)
{
	double t, term, sum;
	long k = (long)(x / (2 * PI));

	x -= (double)k * 2 * PI;
	if (x > PI)
		x -= 2 * PI;
	if (x < -PI)
		x += 2 * PI;
	if (x > PI / 2)
		x = PI - x;
	if (x < -PI / 2)
		x = -PI - x;
	t = x * x;
	term = x;
	sum = x;
	for (int n = 1; n < 12; n++) {
		term *= -t / ((2 * n) * (2 * n + 1));
		sum += term;
	}
	return sum;
}

static double my_cos(double x)
{
	return my_sin(x + PI / 2);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static struct snd_mask *mask(struct snd_pcm_hw_params *p, int param)
{
	return &p->masks[param - SNDRV_PCM_HW_PARAM_FIRST_MASK];
}

static struct snd_interval *interval(struct snd_pcm_hw_params *p, int param)
{
	return &p->intervals[param - SNDRV_PCM_HW_PARAM_FIRST_INTERVAL];
}

static void set_mask(struct snd_pcm_hw_params *p, int param, unsigned int bit)
{
	struct snd_mask *m = mask(p, param);

	memset(m, 0, sizeof(*m));
	m->bits[bit / 32] = 1u << (bit % 32);
}

static void set_value(struct snd_pcm_hw_params *p, int param, unsigned int v)
{
	struct snd_interval *i = interval(p, param);

	memset(i, 0, sizeof(*i));
	i->min = i->max = v;
	i->integer = 1;
}

/* Opens the PCM and sets 48 kHz S16_LE mono interleaved, our period size
 * and count; what the kernel chose is printed. Returns the fd or -1. */
static int open_pcm(const char *path)
{
	struct snd_pcm_hw_params p;
	int fd = open(path, O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		printf("sndtest: open %s: %s\n", path, strerror(errno));
		return -1;
	}
	/* "Anything": every mask bit, every interval full; then narrow. */
	memset(&p, 0, sizeof(p));
	for (int i = SNDRV_PCM_HW_PARAM_FIRST_MASK; i <= SNDRV_PCM_HW_PARAM_LAST_MASK; i++)
		memset(mask(&p, i), 0xff, sizeof(struct snd_mask));
	for (int i = SNDRV_PCM_HW_PARAM_FIRST_INTERVAL; i <= SNDRV_PCM_HW_PARAM_LAST_INTERVAL; i++)
		interval(&p, i)->max = ~0u;
	p.rmask = ~0u;
	p.info = ~0u;
	set_mask(&p, SNDRV_PCM_HW_PARAM_ACCESS, SNDRV_PCM_ACCESS_RW_INTERLEAVED);
	set_mask(&p, SNDRV_PCM_HW_PARAM_FORMAT, SNDRV_PCM_FORMAT_S16_LE);
	set_mask(&p, SNDRV_PCM_HW_PARAM_SUBFORMAT, SNDRV_PCM_SUBFORMAT_STD);
	set_value(&p, SNDRV_PCM_HW_PARAM_CHANNELS, 1);
	set_value(&p, SNDRV_PCM_HW_PARAM_RATE, RATE);
	set_value(&p, SNDRV_PCM_HW_PARAM_PERIOD_SIZE, PERIOD_FRAMES);
	set_value(&p, SNDRV_PCM_HW_PARAM_PERIODS, PERIODS);
	if (ioctl(fd, SNDRV_PCM_IOCTL_HW_PARAMS, &p) < 0) {
		printf("sndtest: HW_PARAMS on %s: %s\n", path, strerror(errno));
		close(fd);
		return -1;
	}
	printf("sndtest: %s: rate %u, channels %u, period %u frames, buffer %u frames\n", path,
	       interval(&p, SNDRV_PCM_HW_PARAM_RATE)->min,
	       interval(&p, SNDRV_PCM_HW_PARAM_CHANNELS)->min,
	       interval(&p, SNDRV_PCM_HW_PARAM_PERIOD_SIZE)->min,
	       interval(&p, SNDRV_PCM_HW_PARAM_BUFFER_SIZE)->min);
	if (ioctl(fd, SNDRV_PCM_IOCTL_PREPARE) < 0) {
		printf("sndtest: PREPARE on %s: %s\n", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int play(double freq, unsigned long frames)
{
	int16_t *buf = malloc(frames * sizeof(int16_t));
	unsigned long done = 0;
	unsigned int underruns = 0;
	uint64_t t0, t1;
	int fd;

	if (!buf)
		return 1;
	for (unsigned long i = 0; i < frames; i++)
		buf[i] = (int16_t)(16384.0 * my_sin(2 * PI * freq * (double)i / RATE));
	fd = open_pcm("/dev/snd/pcmC0D0p");
	if (fd < 0)
		return 1;
	t0 = now_ms();
	while (done < frames) {
		struct snd_xferi x = { .buf = buf + done, .frames = frames - done };

		if (ioctl(fd, SNDRV_PCM_IOCTL_WRITEI_FRAMES, &x) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			if (errno == EPIPE && underruns++ < 10 &&
			    ioctl(fd, SNDRV_PCM_IOCTL_PREPARE) == 0)
				continue;
			printf("sndtest: WRITEI_FRAMES: %s\n", strerror(errno));
			return 1;
		}
		done += (unsigned long)x.result;
	}
	/* Returns once everything written has been played. */
	if (ioctl(fd, SNDRV_PCM_IOCTL_DRAIN) < 0) {
		printf("sndtest: DRAIN: %s\n", strerror(errno));
		return 1;
	}
	t1 = now_ms();
	close(fd);
	printf("sndtest: played %lu frames of %.0f Hz in %llu ms (underruns %u)\n", frames, freq,
	       (unsigned long long)(t1 - t0), underruns);
	free(buf);
	return 0;
}

/* Goertzel power of freq over x[0..n). */
static double goertzel(const int16_t *x, unsigned long n, double freq)
{
	double c = 2 * my_cos(2 * PI * freq / RATE), s1 = 0, s2 = 0;

	for (unsigned long i = 0; i < n; i++) {
		double s0 = x[i] + c * s1 - s2;

		s2 = s1;
		s1 = s0;
	}
	return s1 * s1 + s2 * s2 - c * s1 * s2;
}

static int rec(unsigned long frames)
{
	int16_t *buf = malloc(frames * sizeof(int16_t));
	unsigned long done = 0, window, crossings = 0;
	unsigned int overruns = 0;
	double best = 0, best_f = 0;
	uint32_t fnv = 2166136261u;
	uint64_t t0, t1;
	int fd;

	if (!buf)
		return 1;
	fd = open_pcm("/dev/snd/pcmC0D0c");
	if (fd < 0)
		return 1;
	t0 = now_ms();
	/* The first read starts the stream (start_threshold is 1 frame). */
	while (done < frames) {
		struct snd_xferi x = { .buf = buf + done, .frames = frames - done };

		if (ioctl(fd, SNDRV_PCM_IOCTL_READI_FRAMES, &x) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			if (errno == EPIPE && overruns++ < 10 &&
			    ioctl(fd, SNDRV_PCM_IOCTL_PREPARE) == 0)
				continue;
			printf("sndtest: READI_FRAMES: %s\n", strerror(errno));
			return 1;
		}
		done += (unsigned long)x.result;
	}
	t1 = now_ms();
	ioctl(fd, SNDRV_PCM_IOCTL_DROP);
	close(fd);

	/* 0.1 s windows give 10 Hz bins: scan 50 Hz to 4 kHz. */
	window = frames < RATE / 10 ? frames : RATE / 10;
	for (double f = 50; f <= 4000; f += 10) {
		double pw = goertzel(buf, window, f);

		if (pw > best) {
			best = pw;
			best_f = f;
		}
	}
	for (unsigned long i = 1; i < frames; i++)
		crossings += (buf[i - 1] < 0) != (buf[i] < 0);
	for (unsigned long i = 0; i < frames * sizeof(int16_t); i++) {
		fnv ^= ((const uint8_t *)buf)[i];
		fnv *= 16777619u;
	}
	printf("sndtest: recorded %lu frames in %llu ms: dominant=%.0f zc_hz=%.1f fnv=0x%08x "
	       "overruns=%u\n",
	       frames, (unsigned long long)(t1 - t0), best_f,
	       (double)crossings / 2.0 / ((double)frames / RATE), fnv, overruns);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 4 && strcmp(argv[1], "play") == 0)
		return play(strtod(argv[2], NULL), strtoul(argv[3], NULL, 10));
	if (argc == 3 && strcmp(argv[1], "rec") == 0)
		return rec(strtoul(argv[2], NULL, 10));
	fprintf(stderr, "usage: sndtest play FREQ FRAMES | sndtest rec FRAMES\n");
	return 2;
}
