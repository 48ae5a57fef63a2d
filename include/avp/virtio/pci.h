/* The virtio-pci transport (VIRTIO 1.2, section 4.1): each device is a
 * modern (non-transitional) function on the VM's PCI host bridge
 * (avp/hw/pci.h), vendor 0x1af4, device 0x1040 + its VIRTIO ID, with one
 * memory BAR holding the common, notify, ISR and device configuration
 * structures and the MSI-X table and PBA. */
#ifndef AVP_VIRTIO_PCI_H
#define AVP_VIRTIO_PCI_H

#include <stdint.h>

#include "avp/virtio/transport.h"

#define VIRTIO_PCI_VENDOR_ID 0x1af4
#define VIRTIO_PCI_DEVICE_ID_BASE 0x1040
#define VIRTIO_PCI_SUBSYS_ID 0x0040

/* BAR 0's layout. */
#define VIRTIO_PCI_BAR_SIZE 0x4000
#define VIRTIO_PCI_COMMON_OFF 0x0000
#define VIRTIO_PCI_COMMON_LEN 0x40
#define VIRTIO_PCI_ISR_OFF 0x1000
#define VIRTIO_PCI_DEVICE_OFF 0x2000
#define VIRTIO_PCI_DEVICE_MAX 0x1000
#define VIRTIO_PCI_NOTIFY_OFF 0x3000
#define VIRTIO_PCI_NOTIFY_MULT 4
#define VIRTIO_PCI_MSIX_TABLE_OFF 0x3800
#define VIRTIO_PCI_MSIX_PBA_OFF 0x3c00

/* Capability types (4.1.4). */
#define VIRTIO_PCI_CAP_COMMON_CFG 1
#define VIRTIO_PCI_CAP_NOTIFY_CFG 2
#define VIRTIO_PCI_CAP_ISR_CFG 3
#define VIRTIO_PCI_CAP_DEVICE_CFG 4
#define VIRTIO_PCI_CAP_PCI_CFG 5

#define VIRTIO_PCI_NO_VECTOR 0xffff

extern const struct virtio_transport_ops virtio_pci_transport;

/* virtio_transport_attach(&virtio_pci_transport, vm, dev): needs vm->pci
 * (arch_pci_init). */
int virtio_pci_attach(struct vm *vm, struct virtio_dev *dev);
/* Messages MSI-X vector v of dev sent so far (stats, tests); 0 for a
 * device not on virtio-pci. */
uint32_t virtio_pci_vector_sent(const struct virtio_dev *dev, uint16_t v);

#endif
