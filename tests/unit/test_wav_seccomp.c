/* The sound backend's paths run where the device role allows them: the
 * WAV sink (format, data, header rewrite) and the looping WAV source, in a
 * forked child confined as the device worker of a VM with --sound (issue
 * 13 item 1: every system call each backend path makes is in its role). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "avp/audio/wav.h"
#include "avp/config.h"
#include "avp/log.h"
#include "avp/seccomp.h"
#include "avp/devices/virtio_snd.h"
#include "support/config_helper.h"

static const struct audio_format s16 = { AUDIO_FMT_S16, 48000, 2 };

static int child(const char *out_path, const char *in_path)
{
	struct avp_config cfg;
	struct wav_writer *w;
	struct wav_source *src;
	int16_t frames[2 * 256];
	struct iovec iov = { .iov_base = frames, .iov_len = sizeof(frames) };

	avp_config_init(&cfg);
	cfg.seccomp = AVP_SECCOMP_KILL;
	/* The filter asks only whether the VM has the device. */
	test_add_device(&cfg, &virtio_snd_config, "out=o.wav,in=i.wav");
	/* Opened by the main thread before confinement, as virtio_snd does. */
	if (wav_writer_open(&w, out_path) || wav_source_open(&src, in_path))
		return 10;
	if (avp_seccomp_apply(AVP_THREAD_DEVICE, &cfg))
		return 11;
	memset(frames, 0x11, sizeof(frames));
	if (wav_writer_set_format(w, &s16) || wav_writer_writev(w, &iov, 1) ||
	    wav_writer_finish(w))
		return 12;
	/* More than the file holds: the source loops back to its top. */
	for (int i = 0; i < 8; i++)
		if (wav_source_read(src, &s16, frames, 256))
			return 13;
	return 0;
}

static void test_sound_backend_in_device_role(void **state)
{
	char dir[] = "/tmp/avp-wav-seccomp-XXXXXX", out[64], in[64];
	struct wav_writer *w;
	int16_t tone[2 * 100];
	struct iovec iov = { .iov_base = tone, .iov_len = sizeof(tone) };
	int status = 0;
	pid_t pid;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(out, sizeof(out), "%s/out.wav", dir);
	snprintf(in, sizeof(in), "%s/in.wav", dir);
	/* A short source file, made unconfined. */
	memset(tone, 0x22, sizeof(tone));
	assert_int_equal(wav_writer_open(&w, in), 0);
	assert_int_equal(wav_writer_set_format(w, &s16), 0);
	assert_int_equal(wav_writer_writev(w, &iov, 1), 0);
	wav_writer_close(w);

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(child(out, in));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		fail_msg("sound backend: killed by signal %d%s", WTERMSIG(status),
			 WTERMSIG(status) == SIGSYS ? " (a call outside the device role)" : "");
	if (WEXITSTATUS(status))
		fail_msg("sound backend: child exit %d", WEXITSTATUS(status));
	unlink(out);
	unlink(in);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sound_backend_in_device_role),
	};

	avp_log_set_level(AVP_LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
