/* --sound out=OUT.wav[,in=IN.wav], a bundle's {"type": "sound", "out",
 * "in"}: the sound device's keys and rules. */
#include <seccomp.h>
#include <stddef.h>
#include <string.h>

#include "avp/devices/virtio_snd.h"

/* Its lines in avp run --help. */
static const char sound_help[] = "virtio-sound: what the guest plays is written to\n"
	"OUT.wav, what it records is read from IN.wav (looped);\n"
	"either may be left out (output dropped, input silent)";

static const struct avp_key sound_keys[] = {
	{ .name = "out", .type = AVP_KEY_PATH, .offset = offsetof(struct avp_sound_cfg, out_path) },
	{ .name = "in", .type = AVP_KEY_PATH, .offset = offsetof(struct avp_sound_cfg, in_path) },
	{ 0 },
};

static int sound_check(void *opts, uint32_t given, struct avp_config_err *e)
{
	const struct avp_sound_cfg *snd = opts;

	(void)given;
	/* At least one of them, never the same file (we would read what we
	 * are writing). */
	if (!snd->out_path && !snd->in_path)
		return avp_config_fail(e, NULL, "give \"out\" (a WAV the guest plays into), \"in\" "
				       "(a WAV it records from), or both");
	if (snd->out_path && snd->in_path && strcmp(snd->out_path, snd->in_path) == 0)
		return avp_config_fail(e, NULL, "\"out\" and \"in\" must be different files");
	return 0;
}

/* WAV files and a period timer per stream; reset and close (vCPU, main)
 * finish the WAV header. */
static const int sound_device_calls[] = {
	SCMP_SYS(pread64), SCMP_SYS(pwrite64), SCMP_SYS(timerfd_settime),
};
static const int sound_vcpu_main_calls[] = {
	SCMP_SYS(pwrite64), SCMP_SYS(timerfd_settime),
};
static const struct avp_seccomp_needs sound_seccomp = {
	AVP_ROLE_CALLS(AVP_THREAD_MAIN, sound_vcpu_main_calls),
	AVP_ROLE_CALLS(AVP_THREAD_VCPU, sound_vcpu_main_calls),
	AVP_ROLE_CALLS(AVP_THREAD_DEVICE, sound_device_calls),
};

const struct avp_config_type virtio_snd_config = {
	.name = "sound", .syntax = "out=OUT.wav[,in=IN.wav]", .help = sound_help,
	.keys = sound_keys, .opts_size = sizeof(struct avp_sound_cfg), .virtio = true, .max = 1,
	.too_many = "only one sound device (at most one per VM)", .check = sound_check,
	.seccomp = &sound_seccomp,
};
