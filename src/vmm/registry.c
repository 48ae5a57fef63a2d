/* The device registry (include/avp/vmm/registry.h). */
#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "avp/devices/virtio_blk.h"
#include "avp/devices/virtio_can.h"
#include "avp/devices/virtio_console.h"
#include "avp/devices/virtio_gpio.h"
#include "avp/devices/virtio_gpu.h"
#include "avp/devices/virtio_i2c.h"
#include "avp/devices/virtio_input.h"
#include "avp/devices/virtio_net.h"
#include "avp/devices/virtio_rng.h"
#include "avp/devices/virtio_snd.h"
#include "avp/devices/virtio_vsock.h"
#include "avp/hw/watchdog.h"
#include "avp/vmm/registry.h"

/* ---- constructors on a device's options ----
 *
 * Each builds the model alone under --describe: the backend is what has
 * side effects (a tap created, a socket bound, an output file emptied),
 * never the model the guest sees. */

static int disk_create(struct virtio_dev **out, const struct avp_config *cfg, const void *opts)
{
	struct avp_disk_cfg d = *(const struct avp_disk_cfg *)opts;

	/* One request queue per vCPU unless queues=N says otherwise. */
	if (d.queues == 0)
		d.queues = cfg->cpus;
	return cfg->describe ? virtio_blk_create_model(out, &d) : virtio_blk_create(out, &d);
}

static int net_create(struct virtio_dev **out, const struct avp_config *cfg, const void *opts)
{
	struct avp_net_cfg n = *(const struct avp_net_cfg *)opts;
	int fds[VIRTIO_NET_MAX_PAIRS];

	/* One queue pair per vCPU unless queues=N says otherwise. */
	if (n.queues == 0)
		n.queues = cfg->cpus < VIRTIO_NET_MAX_PAIRS ? cfg->cpus : VIRTIO_NET_MAX_PAIRS;
	if (!cfg->describe)
		return virtio_net_create(out, &n);
	/* A tap's model needs an fd per pair to own; eventfds stand in,
	 * never read. */
	for (uint32_t i = 0; i < n.queues; i++) {
		fds[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (fds[i] < 0) {
			int err = errno;

			while (i)
				close(fds[--i]);
			return -err;
		}
	}
	return virtio_net_create_pairs(out, &n, fds, n.queues, NULL);
}

static int console_create(struct virtio_dev **out, const struct avp_config *cfg, const void *opts)
{
	return cfg->describe ? virtio_console_create_fds(out, -1, -1)
			     : virtio_console_create_vm(out, opts, cfg);
}

static int rng_create(struct virtio_dev **out, const struct avp_config *cfg, const void *opts)
{
	(void)cfg;
	(void)opts;
	return virtio_rng_create(out);
}

static int gpu_create(struct virtio_dev **out, const struct avp_config *cfg, const void *opts)
{
	(void)cfg;
	return virtio_gpu_create(out, opts);
}

static int input_create(struct virtio_dev **out, const struct avp_config *cfg, const void *opts)
{
	(void)cfg;
	return virtio_input_create(out, opts);
}

static int gpio_create(struct virtio_dev **out, const struct avp_config *cfg, const void *opts)
{
	(void)cfg;
	return virtio_gpio_create(out, opts);
}

/* The model alone under --describe: no host adapter opened. */
static int i2c_create(struct virtio_dev **out, const struct avp_config *cfg, const void *opts)
{
	return cfg->describe ? virtio_i2c_create_model(out, opts) : virtio_i2c_create(out, opts);
}

static int sound_create(struct virtio_dev **out, const struct avp_config *cfg, const void *opts)
{
	/* Output discarded, input silent: the same device, no WAV file touched. */
	static const struct avp_sound_cfg quiet;

	return virtio_snd_create(out, cfg->describe ? &quiet : opts);
}

/* The device with its route table: the config's vsock-peer entries. */
static int vsock_create(struct virtio_dev **out, const struct avp_config *cfg, const void *opts)
{
	struct avp_vsock_cfg vs = *(const struct avp_vsock_cfg *)opts;
	const struct avp_vsock_peer *peer;

	vs.npeers = 0;
	while (vs.npeers < AVP_VSOCK_MAX_PEERS &&
	       (peer = avp_config_device(cfg, &virtio_vsock_peer_config, vs.npeers)))
		vs.peers[vs.npeers++] = *peer;
	return cfg->describe ? virtio_vsock_create_model(out, &vs) : virtio_vsock_create(out, &vs);
}

static int can_create(struct virtio_dev **out, const struct avp_config *cfg, const void *opts)
{
	struct avp_can_cfg can;
	int ret = virtio_can_resolve(cfg, opts, &can);

	if (ret)
		return ret;
	return cfg->describe ? virtio_can_create_model(out, &can) : virtio_can_create(out, &can);
}

/* ---- the table, in the order of the usage text ---- */

static const struct avp_device_type types[] = {
	{ &virtio_blk_config, VIRTIO_ID_BLOCK, disk_create, NULL },
	{ &virtio_net_config, VIRTIO_ID_NET, net_create, NULL },
	{ &virtio_rng_config, VIRTIO_ID_RNG, rng_create, NULL },
	{ &virtio_console_config, VIRTIO_ID_CONSOLE, console_create, NULL },
	{ &virtio_vsock_config, VIRTIO_ID_VSOCK, vsock_create, NULL },
	{ &virtio_gpu_config, VIRTIO_ID_GPU, gpu_create, virtio_gpu_register_api },
	{ &virtio_input_config, VIRTIO_ID_INPUT, input_create, virtio_input_register_api },
	{ &virtio_snd_config, VIRTIO_ID_SOUND, sound_create, NULL },
	{ &virtio_can_config, VIRTIO_ID_CAN, can_create, virtio_can_register_api },
	{ &virtio_gpio_config, VIRTIO_ID_GPIO, gpio_create, virtio_gpio_register_api },
	{ &virtio_i2c_config, VIRTIO_ID_I2C, i2c_create, NULL },
	{ &watchdog_config, 0, NULL, NULL },
	{ &virtio_vsock_peer_config, 0, NULL, NULL },
	{ &virtio_can_bus_config, 0, NULL, NULL },
};

#define NTYPES (sizeof(types) / sizeof(types[0]))
#define MAX_REGISTERED 4

static const struct avp_device_type *registered[MAX_REGISTERED];
static size_t nregistered;

int avp_device_type_register(const struct avp_device_type *t)
{
	if (nregistered >= MAX_REGISTERED)
		return -ENOSPC;
	registered[nregistered++] = t;
	return 0;
}

const struct avp_device_type *avp_device_type_at(size_t i)
{
	if (i < NTYPES)
		return &types[i];
	return i - NTYPES < nregistered ? registered[i - NTYPES] : NULL;
}

const struct avp_device_type *avp_device_type_of(const struct avp_config_type *config)
{
	const struct avp_device_type *t;

	for (size_t i = 0; (t = avp_device_type_at(i)); i++)
		if (t->config == config)
			return t;
	return NULL;
}

const struct avp_device_type *avp_device_type_by_virtio_id(unsigned int virtio_id)
{
	const struct avp_device_type *t;

	for (size_t i = 0; virtio_id && (t = avp_device_type_at(i)); i++)
		if (t->virtio_id == virtio_id)
			return t;
	return NULL;
}

const struct avp_device_type *avp_device_type_by_name(const char *name)
{
	const struct avp_device_type *t;

	for (size_t i = 0; (t = avp_device_type_at(i)); i++)
		if (strcmp(t->config->name, name) == 0)
			return t;
	return NULL;
}
