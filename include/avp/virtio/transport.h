/* The transport interface: how a device reaches the guest.
 *
 * A device model (src/devices/) never knows which transport carries it;
 * it reaches its transport only through dev->tops, and machine assembly
 * places it with virtio_transport_attach(). virtio-mmio
 * (src/virtio/mmio.c) is the first implementation; virtio-pci sits
 * beside it with its own table. Every transport runs the device's queue
 * work on a worker thread (src/virtio/worker.c), never on a vCPU. */
#ifndef AVP_VIRTIO_TRANSPORT_H
#define AVP_VIRTIO_TRANSPORT_H

#include <stdint.h>

struct vm;
struct virtio_dev;

/* Where the guest finds a device, for --describe and the control
 * socket. irq is a GSI on x86 (an SPI, or the first MSI vector, on the
 * transports and architectures that come next). */
struct virtio_transport_info {
	const char *transport; /* "virtio-mmio" or "virtio-pci" */
	uint64_t base;	       /* register window (virtio-pci: BAR 0) */
	uint64_t size;
	uint32_t irq;	       /* virtio-pci: the INTx fallback's GSI */
	uint64_t features; /* offered: device bits + the transport's ring bits */
	/* virtio-pci: bus 0 device number and MSI-X vectors (queues + 1). */
	uint8_t pci_slot;
	uint16_t msix_vectors;
};

struct virtio_transport_ops {
	const char *name;
	/* Gives dev its registers and interrupt on vm, readies its worker
	 * (started at once unless vm->defer_device_threads). 0 or -errno,
	 * with the reason already logged; on failure the caller still owns
	 * dev. */
	int (*attach)(struct vm *vm, struct virtio_dev *dev);
	/* Stops the worker and frees the transport's state; dev itself stays
	 * (virtio_transport_detach destroys it). */
	void (*detach)(struct virtio_dev *dev);
	/* Wires queue notifications and the interrupt to KVM (ioeventfd,
	 * irqfd) where it offers them; the transport falls back to its own
	 * handlers otherwise. Called by attach once the VM has a KVM fd. */
	void (*setup_notify)(struct virtio_dev *dev);
	/* Starts a worker that attach deferred; 0 when it runs already. */
	int (*start)(struct virtio_dev *dev);
	/* Sets ISR bits (VIRTIO_ISR_*) and interrupts the driver. Device
	 * thread or vCPU thread, dev->lock held or not. */
	void (*interrupt)(struct virtio_dev *dev, uint32_t isr_bits);
	/* Used buffers on queue q: for a transport with an interrupt per
	 * queue (virtio-pci's MSI-X vectors). Optional: interrupt(dev,
	 * VIRTIO_ISR_QUEUE) otherwise. Same threads as interrupt. */
	void (*queue_interrupt)(struct virtio_dev *dev, uint16_t q);
	/* Backend fds the worker waits on for the device (tap, sockets). */
	int (*watch_fd)(struct virtio_dev *dev, int fd, uint32_t epoll_events);
	int (*unwatch_fd)(struct virtio_dev *dev, int fd);
	void (*describe)(const struct virtio_dev *dev, struct virtio_transport_info *out);
};

/* Interrupt status bits (VIRTIO 1.2, 4.2.2 InterruptStatus; the same
 * meaning on every transport). */
#define VIRTIO_ISR_QUEUE 1
#define VIRTIO_ISR_CONFIG 2

/* Device-side rules every transport shares (VIRTIO 1.2, 2.1 and 3.1). */
/* The feature bits offered: the device's plus the ring bits. */
uint64_t virtio_transport_features(struct virtio_dev *dev);
/* Device reset (status 0 written): the device forgets its queues, status
 * and features. dev->lock held. */
void virtio_transport_reset_dev(struct virtio_dev *dev);
/* The driver wrote value to device_status, having written
 * driver_features: accepts FEATURES_OK only for a subset we offer,
 * starts the device at DRIVER_OK. A 0 resets (virtio_transport_reset_dev,
 * the caller resets its own registers). dev->lock held. */
void virtio_transport_write_status(struct virtio_dev *dev, uint64_t driver_features,
				   uint8_t value);
/* The driver enabled queue q: checks its rings. dev->lock held. */
void virtio_transport_enable_queue(struct virtio_dev *dev, uint16_t q);

/* Binds dev to transport t and attaches it to vm (t->attach). */
int virtio_transport_attach(const struct virtio_transport_ops *t, struct vm *vm,
			    struct virtio_dev *dev);
/* Detaches dev from its transport (if any) and destroys it
 * (dev->ops->destroy). */
void virtio_transport_detach(struct virtio_dev *dev);
/* Starts dev's deferred worker. 0 or -errno (-EINVAL when unattached). */
int virtio_transport_start(struct virtio_dev *dev);
/* Fills *out; -EINVAL when dev is not attached. */
int virtio_transport_describe(const struct virtio_dev *dev, struct virtio_transport_info *out);

#endif
