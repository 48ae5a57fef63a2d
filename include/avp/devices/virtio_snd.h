/* virtio-sound (VIRTIO 1.2, section 5.14): constructor, limits and the
 * wire structures, shared with its tests. */
#ifndef AVP_DEVICES_VIRTIO_SND_H
#define AVP_DEVICES_VIRTIO_SND_H

#include <stdint.h>

#include "avp/config/options.h"
#include "avp/virtio/virtio_dev.h"

#include "avp/virtio/virtio_ids.h"

/* Queues (5.14.2). */
#define VIRTIO_SND_CONTROLQ 0
#define VIRTIO_SND_EVENTQ 1
#define VIRTIO_SND_TXQ 2
#define VIRTIO_SND_RXQ 3
#define VIRTIO_SND_NUM_QUEUES 4

/* What the device offers: stream 0 plays (txq) into the out= WAV, stream 1
 * records (rxq) from the in= WAV; no jacks; one channel map per stream. */
#define VIRTIO_SND_STREAM_OUT 0
#define VIRTIO_SND_STREAM_IN 1
#define VIRTIO_SND_NUM_STREAMS 2
#define VIRTIO_SND_NUM_JACKS 0
#define VIRTIO_SND_NUM_CHMAPS 2
#define VIRTIO_SND_CHANNELS_MIN 1
#define VIRTIO_SND_CHANNELS_MAX 2

/* Caps that keep a hostile driver's cost bounded:
 * - I/O messages held per stream (waiting for START or for their play
 *   time); further ones stay in the ring until a slot frees up;
 * - segments of one I/O message (its iovecs are kept while it waits):
 *   enough for MAX_IO_BYTES in scattered 4 KiB pages plus header/status;
 * - PCM bytes of one I/O message, and buffer_bytes of SET_PARAMS (Linux
 *   sizes its buffer for at most 160 ms of 32-bit stereo at our top rate,
 *   192 kHz: 240 KiB, and its periods for 80 ms, 120 KiB);
 * - the per-item size a driver may ask for in an *_INFO request;
 * - control requests or I/O messages taken per wakeup before yielding. */
#define VIRTIO_SND_MAX_QUEUED 64
#define VIRTIO_SND_MAX_IO_SEGS 72
#define VIRTIO_SND_MAX_IO_BYTES (256u * 1024u)
#define VIRTIO_SND_MAX_BUFFER_BYTES (1024u * 1024u)
#define VIRTIO_SND_MAX_INFO_SIZE 256u
#define VIRTIO_SND_BUDGET 64

/* Request codes and status codes (5.14.6). */
enum {
	VIRTIO_SND_R_JACK_INFO = 1,
	VIRTIO_SND_R_JACK_REMAP,
	VIRTIO_SND_R_PCM_INFO = 0x0100,
	VIRTIO_SND_R_PCM_SET_PARAMS,
	VIRTIO_SND_R_PCM_PREPARE,
	VIRTIO_SND_R_PCM_RELEASE,
	VIRTIO_SND_R_PCM_START,
	VIRTIO_SND_R_PCM_STOP,
	VIRTIO_SND_R_CHMAP_INFO = 0x0200,
	VIRTIO_SND_S_OK = 0x8000,
	VIRTIO_SND_S_BAD_MSG,
	VIRTIO_SND_S_NOT_SUPP,
	VIRTIO_SND_S_IO_ERR,
};

enum { VIRTIO_SND_D_OUTPUT = 0, VIRTIO_SND_D_INPUT };

/* Sample formats and rates (5.14.6.6.2): bit numbers in the info masks. */
enum {
	VIRTIO_SND_PCM_FMT_U8 = 4,
	VIRTIO_SND_PCM_FMT_S16 = 5,
	VIRTIO_SND_PCM_FMT_S24 = 15,
	VIRTIO_SND_PCM_FMT_S32 = 17,
	VIRTIO_SND_PCM_FMT_FLOAT = 19,
	VIRTIO_SND_PCM_FMT_IEC958_SUBFRAME = 24, /* the last defined one */
};
enum {
	VIRTIO_SND_PCM_RATE_5512 = 0,
	VIRTIO_SND_PCM_RATE_8000,
	VIRTIO_SND_PCM_RATE_11025,
	VIRTIO_SND_PCM_RATE_16000,
	VIRTIO_SND_PCM_RATE_22050,
	VIRTIO_SND_PCM_RATE_32000,
	VIRTIO_SND_PCM_RATE_44100,
	VIRTIO_SND_PCM_RATE_48000,
	VIRTIO_SND_PCM_RATE_64000,
	VIRTIO_SND_PCM_RATE_88200,
	VIRTIO_SND_PCM_RATE_96000,
	VIRTIO_SND_PCM_RATE_176400,
	VIRTIO_SND_PCM_RATE_192000,
	VIRTIO_SND_PCM_RATE_384000,
};

/* Channel positions (5.14.6.9.1). */
enum { VIRTIO_SND_CHMAP_NONE = 0, VIRTIO_SND_CHMAP_NA, VIRTIO_SND_CHMAP_MONO,
       VIRTIO_SND_CHMAP_FL, VIRTIO_SND_CHMAP_FR };
#define VIRTIO_SND_CHMAP_MAX_SIZE 18

/* All fields little-endian. */
struct virtio_snd_config {
	uint32_t jacks;
	uint32_t streams;
	uint32_t chmaps;
};

struct virtio_snd_hdr {
	uint32_t code;
};

struct virtio_snd_query_info {
	struct virtio_snd_hdr hdr;
	uint32_t start_id;
	uint32_t count;
	uint32_t size;
};

struct virtio_snd_info {
	uint32_t hda_fn_nid;
};

struct virtio_snd_pcm_info {
	struct virtio_snd_info hdr;
	uint32_t features;
	uint64_t formats;
	uint64_t rates;
	uint8_t direction;
	uint8_t channels_min;
	uint8_t channels_max;
	uint8_t padding[5];
} __attribute__((packed));

struct virtio_snd_chmap_info {
	struct virtio_snd_info hdr;
	uint8_t direction;
	uint8_t channels;
	uint8_t positions[VIRTIO_SND_CHMAP_MAX_SIZE];
};

struct virtio_snd_pcm_hdr {
	struct virtio_snd_hdr hdr;
	uint32_t stream_id;
};

struct virtio_snd_pcm_set_params {
	struct virtio_snd_pcm_hdr hdr;
	uint32_t buffer_bytes;
	uint32_t period_bytes;
	uint32_t features;
	uint8_t channels;
	uint8_t format;
	uint8_t rate;
	uint8_t padding;
};

struct virtio_snd_pcm_xfer {
	uint32_t stream_id;
};

struct virtio_snd_pcm_status {
	uint32_t status;
	uint32_t latency_bytes;
};

_Static_assert(sizeof(struct virtio_snd_pcm_info) == 32, "5.14.6.6.2 layout");
_Static_assert(sizeof(struct virtio_snd_chmap_info) == 24, "5.14.6.9.1 layout");
_Static_assert(sizeof(struct virtio_snd_pcm_set_params) == 24, "5.14.6.6.3 layout");

/* virtio-sound (--sound out=PATH,in=PATH): what the guest plays is written
 * to the out WAV, what it records is read from the in WAV (looped); either
 * may be NULL (output discarded, input silent). */
struct avp_sound_cfg {
	char *out_path;
	char *in_path;
};

/* Opens cfg->out_path (created/truncated) and cfg->in_path (a WAV file);
 * either may be NULL: output is then discarded, input is silence. */
int virtio_snd_create(struct virtio_dev **out, const struct avp_sound_cfg *cfg);

/* --sound out=OUT.wav[,in=IN.wav] (src/devices/virtio_snd_opts.c). */
extern const struct avp_config_type virtio_snd_config;

#endif
