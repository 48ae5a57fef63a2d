/* VIRTIO device IDs (VIRTIO 1.2, section 5): the one list. The first four
 * are repeated, token for token, in avp/virtio/virtio_dev.h until the
 * transport's header includes this one. */
#ifndef AVP_VIRTIO_IDS_H
#define AVP_VIRTIO_IDS_H

#define VIRTIO_ID_NET 1
#define VIRTIO_ID_BLOCK 2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG 4
#define VIRTIO_ID_GPU 16   /* 5.7 */
#define VIRTIO_ID_INPUT 18 /* 5.8 */
#define VIRTIO_ID_VSOCK 19 /* 5.10 */
#define VIRTIO_ID_SOUND 25 /* 5.14 */
#define VIRTIO_ID_CAN 36   /* VIRTIO 1.4, device-types/can */

#endif
