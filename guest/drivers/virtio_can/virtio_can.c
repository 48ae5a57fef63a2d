// SPDX-License-Identifier: GPL-2.0
/*
 * virtio_can - a SocketCAN network device for the virtio CAN device
 * (VIRTIO 1.4, device ID 36), for guests whose kernel has no driver
 * (Linux before 7.2, e.g. Debian's 6.12).
 *
 * Written for avp from the specification's text (OASIS virtio-spec,
 * device-types/can/description.tex); the section names below are that
 * text's. Note the layout: RTR_FRAMES is feature bit 2 and LATE_TX_ACK
 * bit 3, and the sdu is as long as `length` says, not a fixed 64 bytes
 * (the 2023 RFC header that circulates with early patches differs).
 *
 * The controller is STOPPED until ndo_open sends SET_CTRL_MODE_START and
 * goes back to STOPPED on ndo_stop (SET_CTRL_MODE_STOP) or on its own on
 * bus-off (the BUSOFF bit of the config status, with a config change).
 * Every frame sent is looped back to local sockets (IFF_ECHO) when the
 * device hands its Tx buffer back with RESULT_OK: with LATE_TX_ACK that
 * is after the frame was on the bus, without it once it was scheduled.
 */
#include <linux/bitmap.h>
#include <linux/can/dev.h>
#include <linux/can/error.h>
#include <linux/can/skb.h>
#include <linux/completion.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/netdevice.h>
#include <linux/rtnetlink.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/virtio.h>
#include <linux/virtio_config.h>
#include <linux/workqueue.h>

#define VIRTIO_CAN_DEVICE_ID 36

/* "Feature bits" */
#define VIRTIO_CAN_F_CAN_CLASSIC 0
#define VIRTIO_CAN_F_CAN_FD 1
#define VIRTIO_CAN_F_RTR_FRAMES 2
#define VIRTIO_CAN_F_LATE_TX_ACK 3

/* "Device configuration layout" */
#define VIRTIO_CAN_S_CTRL_BUSOFF (1u << 0)

/* "Device Operation" */
#define VIRTIO_CAN_RESULT_OK 0
#define VIRTIO_CAN_SET_CTRL_MODE_START 0x0201
#define VIRTIO_CAN_SET_CTRL_MODE_STOP 0x0202
#define VIRTIO_CAN_TX 0x0001
#define VIRTIO_CAN_RX 0x0101
#define VIRTIO_CAN_FLAGS_RTR 0x2000
#define VIRTIO_CAN_FLAGS_FD 0x4000
#define VIRTIO_CAN_FLAGS_EXTENDED 0x8000
#define VIRTIO_CAN_FLAGS_KNOWN \
	(VIRTIO_CAN_FLAGS_RTR | VIRTIO_CAN_FLAGS_FD | VIRTIO_CAN_FLAGS_EXTENDED)

#define VCAN_CTRL_TIMEOUT (5 * HZ)
/* More in-flight frames than this buys no throughput, only echo slots. */
#define VCAN_TX_MAX 128

struct virtio_can_config {
	__le16 status;
};

/* The common head of struct virtio_can_tx_out and struct virtio_can_rx. */
struct vcan_msg {
	__le16 msg_type;
	__le16 length;
	u8 reserved_classic_dlc;
	u8 padding;
	__le16 reserved_xl_priority;
	__le32 flags;
	__le32 can_id;
	u8 sdu[CANFD_MAX_DLEN];
};
static_assert(offsetof(struct vcan_msg, flags) == 8);
static_assert(offsetof(struct vcan_msg, can_id) == 12);
static_assert(offsetof(struct vcan_msg, sdu) == 16);
#define VCAN_HDR_LEN offsetof(struct vcan_msg, sdu)

/* One Tx request: device-readable msg, device-writable result. */
struct vcan_tx_req {
	struct vcan_msg msg;
	u8 result;
};

/* One Controlq request: struct virtio_can_control_out, then _in. */
struct vcan_ctrl_req {
	__le16 msg_type;
	u8 result;
};

struct vcan_priv {
	struct can_priv can; /* first: the CAN core's netdev_priv() */
	struct net_device *ndev;
	struct virtio_device *vdev;
	struct virtqueue *txq, *rxq, *ctlq;
	struct napi_struct napi;
	bool classic, fd, rtr;

	/* txq, tx_busy, tx_inflight and the echo skbs of busy slots */
	spinlock_t tx_lock;
	struct vcan_tx_req *tx;
	unsigned long *tx_busy;
	unsigned int tx_max, tx_inflight;

	struct vcan_msg *rx;
	unsigned int rx_num;

	struct mutex ctrl_mutex; /* one Controlq request at a time */
	spinlock_t ctlq_lock;	 /* add (process) against get_buf (irq) */
	struct completion ctrl_done;
	struct vcan_ctrl_req *ctrl;
	unsigned int ctrl_len;
	bool ctrl_lost; /* a request timed out: the device still owns it */

	spinlock_t cfg_lock;
	bool cfg_off;
	struct work_struct cfg_work;
};

static int vcan_ctrl(struct vcan_priv *p, u16 type)
{
	struct scatterlist out, in, *sgs[2] = { &out, &in };
	unsigned long flags;
	int err;

	mutex_lock(&p->ctrl_mutex);
	if (p->ctrl_lost) {
		err = -EIO;
		goto out;
	}
	p->ctrl->msg_type = cpu_to_le16(type);
	p->ctrl->result = 0xff;
	p->ctrl_len = 0;
	reinit_completion(&p->ctrl_done);
	sg_init_one(&out, &p->ctrl->msg_type, sizeof(p->ctrl->msg_type));
	sg_init_one(&in, &p->ctrl->result, sizeof(p->ctrl->result));
	spin_lock_irqsave(&p->ctlq_lock, flags);
	err = virtqueue_add_sgs(p->ctlq, sgs, 1, 1, p->ctrl, GFP_ATOMIC);
	if (!err)
		virtqueue_kick(p->ctlq);
	spin_unlock_irqrestore(&p->ctlq_lock, flags);
	if (err)
		goto out;
	if (!wait_for_completion_timeout(&p->ctrl_done, VCAN_CTRL_TIMEOUT)) {
		netdev_err(p->ndev, "control request 0x%04x: no answer in %u s\n",
			   type, VCAN_CTRL_TIMEOUT / HZ);
		p->ctrl_lost = true;
		err = -ETIMEDOUT;
		goto out;
	}
	/* "Other values are to be treated like VIRTIO_CAN_RESULT_NOT_OK." */
	if (p->ctrl_len < 1 || p->ctrl->result != VIRTIO_CAN_RESULT_OK)
		err = -EIO;
out:
	mutex_unlock(&p->ctrl_mutex);
	return err;
}

static void vcan_ctlq_done(struct virtqueue *vq)
{
	struct vcan_priv *p = netdev_priv(vq->vdev->priv);
	unsigned long flags;
	unsigned int len;

	spin_lock_irqsave(&p->ctlq_lock, flags);
	while (virtqueue_get_buf(vq, &len)) {
		p->ctrl_len = len;
		complete(&p->ctrl_done);
	}
	spin_unlock_irqrestore(&p->ctlq_lock, flags);
}

static bool vcan_busoff(struct vcan_priv *p)
{
	u16 status;

	virtio_cread_le(p->vdev, struct virtio_can_config, status, &status);
	return status & VIRTIO_CAN_S_CTRL_BUSOFF;
}

/* Drops the echo skbs of frames the device still holds (tx_lock held):
 * after STOP or bus-off they will come back NOT_OK, and close_candev's
 * own flush must not race the Tx completion.
 */
static void vcan_drop_echoes(struct vcan_priv *p)
{
	unsigned int i;

	for_each_set_bit(i, p->tx_busy, p->tx_max)
		can_free_echo_skb(p->ndev, i, NULL);
}

static void vcan_txq_done(struct virtqueue *vq)
{
	struct net_device *ndev = vq->vdev->priv;
	struct vcan_priv *p = netdev_priv(ndev);
	struct vcan_tx_req *req;
	unsigned long flags;
	unsigned int len, idx;

	spin_lock_irqsave(&p->tx_lock, flags);
	while ((req = virtqueue_get_buf(vq, &len))) {
		idx = req - p->tx;
		if (idx >= p->tx_max || !test_bit(idx, p->tx_busy)) {
			netdev_warn_once(ndev, "device returned an unknown Tx buffer\n");
			continue;
		}
		clear_bit(idx, p->tx_busy);
		p->tx_inflight--;
		if (len >= 1 && req->result == VIRTIO_CAN_RESULT_OK) {
			ndev->stats.tx_bytes += can_get_echo_skb(ndev, idx, NULL);
			ndev->stats.tx_packets++;
		} else {
			can_free_echo_skb(ndev, idx, NULL);
			ndev->stats.tx_errors++;
		}
	}
	if (netif_queue_stopped(ndev) && p->can.state == CAN_STATE_ERROR_ACTIVE &&
	    p->tx_inflight < p->tx_max && vq->num_free >= 2)
		netif_wake_queue(ndev);
	spin_unlock_irqrestore(&p->tx_lock, flags);
}

static netdev_tx_t vcan_start_xmit(struct sk_buff *skb, struct net_device *ndev)
{
	struct vcan_priv *p = netdev_priv(ndev);
	struct canfd_frame *cf = (struct canfd_frame *)skb->data;
	struct scatterlist out, in, *sgs[2] = { &out, &in };
	struct vcan_tx_req *req;
	bool fd, rtr, ext, kick;
	unsigned long flags;
	unsigned int idx;
	u32 vflags = 0;
	int err;

	if (can_dev_dropped_skb(ndev, skb))
		return NETDEV_TX_OK;
	fd = can_is_canfd_skb(skb);
	rtr = !fd && (cf->can_id & CAN_RTR_FLAG);
	ext = cf->can_id & CAN_EFF_FLAG;
	/* The device MUST reject what was not negotiated: don't ask it. */
	if ((fd && !p->fd) || (!fd && !p->classic) || (rtr && !p->rtr)) {
		kfree_skb(skb);
		ndev->stats.tx_dropped++;
		return NETDEV_TX_OK;
	}
	if (fd)
		vflags |= VIRTIO_CAN_FLAGS_FD;
	if (rtr)
		vflags |= VIRTIO_CAN_FLAGS_RTR;
	if (ext)
		vflags |= VIRTIO_CAN_FLAGS_EXTENDED;

	spin_lock_irqsave(&p->tx_lock, flags);
	idx = find_first_zero_bit(p->tx_busy, p->tx_max);
	if (idx >= p->tx_max) {
		netif_stop_queue(ndev);
		spin_unlock_irqrestore(&p->tx_lock, flags);
		return NETDEV_TX_BUSY;
	}
	req = &p->tx[idx];
	memset(&req->msg, 0, VCAN_HDR_LEN);
	req->msg.msg_type = cpu_to_le16(VIRTIO_CAN_TX);
	req->msg.length = cpu_to_le16(cf->len);
	req->msg.flags = cpu_to_le32(vflags);
	/* "The 3 most significant bits of can_id ... are 0." */
	req->msg.can_id = cpu_to_le32(cf->can_id & (ext ? CAN_EFF_MASK : CAN_SFF_MASK));
	/* An RTR frame's len is the DLC it asks for; it has no data, but
	 * the sdu is "determined by the length": send that many zeros.
	 */
	if (rtr)
		memset(req->msg.sdu, 0, cf->len);
	else
		memcpy(req->msg.sdu, cf->data, cf->len);
	req->result = 0xff;
	sg_init_one(&out, &req->msg, VCAN_HDR_LEN + cf->len);
	sg_init_one(&in, &req->result, sizeof(req->result));

	can_put_echo_skb(skb, ndev, idx, 0);
	err = virtqueue_add_sgs(p->txq, sgs, 1, 1, req, GFP_ATOMIC);
	if (err) {
		/* The queue was stopped before it could fill; a device that
		 * shrank it under us costs this one frame.
		 */
		can_free_echo_skb(ndev, idx, NULL);
		ndev->stats.tx_dropped++;
		netif_stop_queue(ndev);
		spin_unlock_irqrestore(&p->tx_lock, flags);
		return NETDEV_TX_OK;
	}
	set_bit(idx, p->tx_busy);
	p->tx_inflight++;
	if (p->tx_inflight >= p->tx_max || p->txq->num_free < 2)
		netif_stop_queue(ndev);
	kick = virtqueue_kick_prepare(p->txq);
	spin_unlock_irqrestore(&p->tx_lock, flags);
	if (kick)
		virtqueue_notify(p->txq);
	return NETDEV_TX_OK;
}

/* One Rx buffer the device filled: a frame for the stack, or counted as
 * an error. The device is not trusted with lengths, flags or IDs.
 */
static void vcan_rx_one(struct vcan_priv *p, const struct vcan_msg *m, unsigned int len)
{
	struct net_device *ndev = p->ndev;
	struct net_device_stats *st = &ndev->stats;
	u32 flags, id, ctype;
	unsigned int dlen;
	struct sk_buff *skb;
	bool fd, rtr, ext;

	if (len < VCAN_HDR_LEN || le16_to_cpu(m->msg_type) != VIRTIO_CAN_RX)
		goto bad;
	flags = le32_to_cpu(m->flags);
	id = le32_to_cpu(m->can_id);
	dlen = le16_to_cpu(m->length);
	fd = flags & VIRTIO_CAN_FLAGS_FD;
	rtr = flags & VIRTIO_CAN_FLAGS_RTR;
	ext = flags & VIRTIO_CAN_FLAGS_EXTENDED;
	if (flags & ~VIRTIO_CAN_FLAGS_KNOWN)
		goto bad;
	if (fd ? (!p->fd || rtr || dlen > CANFD_MAX_DLEN ||
		  can_fd_dlc2len(can_fd_len2dlc(dlen)) != dlen)
	       : (!p->classic || (rtr && !p->rtr) || dlen > CAN_MAX_DLEN))
		goto bad;
	if (id > (ext ? CAN_EFF_MASK : CAN_SFF_MASK))
		goto bad;
	if (!rtr && len < VCAN_HDR_LEN + dlen)
		goto bad;

	ctype = id | (ext ? CAN_EFF_FLAG : 0);
	if (fd) {
		struct canfd_frame *cf;

		skb = alloc_canfd_skb(ndev, &cf);
		if (!skb)
			goto drop;
		cf->can_id = ctype;
		cf->len = dlen;
		memcpy(cf->data, m->sdu, dlen);
	} else {
		struct can_frame *cf;

		skb = alloc_can_skb(ndev, &cf);
		if (!skb)
			goto drop;
		cf->can_id = ctype | (rtr ? CAN_RTR_FLAG : 0);
		cf->len = dlen;
		if (!rtr)
			memcpy(cf->data, m->sdu, dlen);
	}
	st->rx_packets++;
	if (!rtr)
		st->rx_bytes += dlen;
	netif_receive_skb(skb);
	return;
bad:
	netdev_warn_once(ndev, "dropping a malformed Rx message from the device\n");
	st->rx_errors++;
	return;
drop:
	st->rx_dropped++;
}

static int vcan_rx_add(struct vcan_priv *p, struct vcan_msg *m, gfp_t gfp)
{
	struct scatterlist sg;

	sg_init_one(&sg, m, sizeof(*m));
	return virtqueue_add_inbuf(p->rxq, &sg, 1, m, gfp);
}

static int vcan_poll(struct napi_struct *napi, int budget)
{
	struct vcan_priv *p = container_of(napi, struct vcan_priv, napi);
	struct vcan_msg *m;
	unsigned int len;
	int done = 0;

	while (done < budget && (m = virtqueue_get_buf(p->rxq, &len))) {
		if (m < p->rx || m >= p->rx + p->rx_num) {
			netdev_warn_once(p->ndev, "device returned an unknown Rx buffer\n");
			continue;
		}
		vcan_rx_one(p, m, len);
		/* Same buffer back at once: the ring is the only Rx buffer. */
		if (vcan_rx_add(p, m, GFP_ATOMIC))
			netdev_warn_once(p->ndev, "could not requeue an Rx buffer\n");
		done++;
	}
	if (done)
		virtqueue_kick(p->rxq);
	if (done < budget && napi_complete_done(napi, done)) {
		/* A buffer used between the last get_buf and re-enabling the
		 * callback would otherwise wait for the next interrupt.
		 */
		if (!virtqueue_enable_cb(p->rxq) && napi_schedule_prep(napi)) {
			virtqueue_disable_cb(p->rxq);
			__napi_schedule(napi);
		}
	}
	return done;
}

static void vcan_rxq_done(struct virtqueue *vq)
{
	struct vcan_priv *p = netdev_priv(vq->vdev->priv);

	if (napi_schedule_prep(&p->napi)) {
		virtqueue_disable_cb(vq);
		__napi_schedule(&p->napi);
	}
}

/* After START answered OK: running, unless the device says bus-off. */
static void vcan_started(struct vcan_priv *p)
{
	p->can.state = CAN_STATE_ERROR_ACTIVE;
	netif_wake_queue(p->ndev);
	schedule_work(&p->cfg_work);
}

static int vcan_open(struct net_device *ndev)
{
	struct vcan_priv *p = netdev_priv(ndev);
	int err;

	/* Not open_candev(): it insists on bit rates, which a virtual
	 * controller does not have (a made-up data bit rate would show in
	 * ip -details); the carrier is all it would do besides.
	 */
	if (!netif_carrier_ok(ndev))
		netif_carrier_on(ndev);
	napi_enable(&p->napi);
	err = vcan_ctrl(p, VIRTIO_CAN_SET_CTRL_MODE_START);
	if (err) {
		netdev_err(ndev, "the device refused to start the controller (%pe)\n",
			   ERR_PTR(err));
		napi_disable(&p->napi);
		close_candev(ndev);
		return err;
	}
	vcan_started(p);
	/* Anything the device used while NAPI was off. */
	local_bh_disable();
	napi_schedule(&p->napi);
	local_bh_enable();
	return 0;
}

static int vcan_stop(struct net_device *ndev)
{
	struct vcan_priv *p = netdev_priv(ndev);
	unsigned long flags;
	int err;

	/* STOPPED first: the Tx completion then no longer wakes the queue. */
	spin_lock_irqsave(&p->tx_lock, flags);
	p->can.state = CAN_STATE_STOPPED;
	netif_stop_queue(ndev);
	spin_unlock_irqrestore(&p->tx_lock, flags);
	err = vcan_ctrl(p, VIRTIO_CAN_SET_CTRL_MODE_STOP);
	if (err)
		netdev_warn(ndev, "stopping the controller failed (%pe)\n", ERR_PTR(err));
	napi_disable(&p->napi);
	spin_lock_irqsave(&p->tx_lock, flags);
	vcan_drop_echoes(p);
	spin_unlock_irqrestore(&p->tx_lock, flags);
	/* Frames cancelled by STOP come back NOT_OK: reap them now (with
	 * BHs off, as an echo's netif_rx must not enable them under the
	 * irq-saving tx_lock).
	 */
	local_bh_disable();
	vcan_txq_done(p->txq);
	local_bh_enable();
	close_candev(ndev);
	return 0;
}

/* The CAN core's restart (ip link set can0 type can restart, restart-ms). */
static int vcan_set_mode(struct net_device *ndev, enum can_mode mode)
{
	struct vcan_priv *p = netdev_priv(ndev);
	int err;

	if (mode != CAN_MODE_START)
		return -EOPNOTSUPP;
	err = vcan_ctrl(p, VIRTIO_CAN_SET_CTRL_MODE_START);
	if (err)
		return err;
	vcan_started(p);
	return 0;
}

/* "BusOff Indication": the controller stopped on its own. */
static void vcan_cfg_work(struct work_struct *work)
{
	struct vcan_priv *p = container_of(work, struct vcan_priv, cfg_work);
	struct net_device *ndev = p->ndev;
	struct can_frame *cf;
	struct sk_buff *skb;
	unsigned long flags;

	rtnl_lock();
	if (!netif_running(ndev) || p->can.state == CAN_STATE_BUS_OFF ||
	    p->can.state == CAN_STATE_STOPPED || !vcan_busoff(p))
		goto out;
	netdev_info(ndev, "the device reports bus-off\n");
	netif_stop_queue(ndev);
	spin_lock_irqsave(&p->tx_lock, flags);
	p->can.state = CAN_STATE_BUS_OFF;
	vcan_drop_echoes(p);
	spin_unlock_irqrestore(&p->tx_lock, flags);
	p->can.can_stats.bus_off++;
	skb = alloc_can_err_skb(ndev, &cf);
	if (skb) {
		cf->can_id |= CAN_ERR_BUSOFF;
		netif_rx(skb);
	}
	can_bus_off(ndev);
out:
	rtnl_unlock();
}

static void vcan_config_changed(struct virtio_device *vdev)
{
	struct vcan_priv *p = netdev_priv(vdev->priv);
	unsigned long flags;

	spin_lock_irqsave(&p->cfg_lock, flags);
	if (!p->cfg_off)
		schedule_work(&p->cfg_work);
	spin_unlock_irqrestore(&p->cfg_lock, flags);
}

static const struct net_device_ops vcan_netdev_ops = {
	.ndo_open = vcan_open,
	.ndo_stop = vcan_stop,
	.ndo_start_xmit = vcan_start_xmit,
	.ndo_change_mtu = can_change_mtu,
};

static const struct ethtool_ops vcan_ethtool_ops = {
	.get_ts_info = ethtool_op_get_ts_info,
};

static int vcan_find_vqs(struct vcan_priv *p)
{
	struct virtqueue_info info[] = {
		{ "can-tx", vcan_txq_done },
		{ "can-rx", vcan_rxq_done },
		{ "can-control", vcan_ctlq_done },
	};
	struct virtqueue *vqs[ARRAY_SIZE(info)];
	int err;

	err = virtio_find_vqs(p->vdev, ARRAY_SIZE(info), vqs, info, NULL);
	if (err)
		return err;
	p->txq = vqs[0];
	p->rxq = vqs[1];
	p->ctlq = vqs[2];
	return 0;
}

static void vcan_free(struct vcan_priv *p)
{
	kfree(p->ctrl);
	kfree(p->rx);
	bitmap_free(p->tx_busy);
	kfree(p->tx);
}

static int vcan_validate(struct virtio_device *vdev)
{
	/* "VIRTIO_CAN_F_RTR_FRAMES Requires VIRTIO_CAN_F_CAN_CLASSIC." */
	if (!virtio_has_feature(vdev, VIRTIO_CAN_F_CAN_CLASSIC))
		__virtio_clear_bit(vdev, VIRTIO_CAN_F_RTR_FRAMES);
	return 0;
}

static int vcan_probe(struct virtio_device *vdev)
{
	struct net_device *ndev;
	struct vcan_priv *p;
	bool classic = virtio_has_feature(vdev, VIRTIO_CAN_F_CAN_CLASSIC);
	bool fd = virtio_has_feature(vdev, VIRTIO_CAN_F_CAN_FD);
	unsigned int i, tx_max;
	int err;

	if (!vdev->config->get) {
		dev_err(&vdev->dev, "the transport cannot read the config space\n");
		return -EINVAL;
	}
	if (!classic && !fd) {
		dev_err(&vdev->dev, "the device offers neither CAN_CLASSIC nor CAN_FD\n");
		return -ENODEV;
	}
	/* vdev->priv is the netdev the callbacks need: set before any runs. */
	ndev = alloc_candev(sizeof(*p), VCAN_TX_MAX);
	if (!ndev)
		return -ENOMEM;
	p = netdev_priv(ndev);
	p->ndev = ndev;
	p->vdev = vdev;
	vdev->priv = ndev;
	p->classic = classic;
	p->fd = fd;
	p->rtr = virtio_has_feature(vdev, VIRTIO_CAN_F_RTR_FRAMES);
	spin_lock_init(&p->tx_lock);
	spin_lock_init(&p->ctlq_lock);
	spin_lock_init(&p->cfg_lock);
	mutex_init(&p->ctrl_mutex);
	init_completion(&p->ctrl_done);
	INIT_WORK(&p->cfg_work, vcan_cfg_work);

	err = vcan_find_vqs(p);
	if (err)
		goto err_free_dev;
	tx_max = min_t(unsigned int, virtqueue_get_vring_size(p->txq), VCAN_TX_MAX);
	p->tx_max = tx_max;
	p->rx_num = virtqueue_get_vring_size(p->rxq);
	err = -ENOMEM;
	p->tx = kcalloc(tx_max, sizeof(*p->tx), GFP_KERNEL);
	p->tx_busy = bitmap_zalloc(tx_max, GFP_KERNEL);
	p->rx = kcalloc(p->rx_num, sizeof(*p->rx), GFP_KERNEL);
	p->ctrl = kzalloc(sizeof(*p->ctrl), GFP_KERNEL);
	if (!p->tx || !p->tx_busy || !p->rx || !p->ctrl)
		goto err_del_vqs;

	SET_NETDEV_DEV(ndev, &vdev->dev);
	ndev->netdev_ops = &vcan_netdev_ops;
	ndev->ethtool_ops = &vcan_ethtool_ops;
	ndev->flags |= IFF_ECHO;
	/* A virtual controller has no bit timing to configure. */
	p->can.bittiming.bitrate = CAN_BITRATE_UNKNOWN;
	p->can.do_set_mode = vcan_set_mode;
	p->can.state = CAN_STATE_STOPPED;
	if (fd) {
		err = can_set_static_ctrlmode(ndev, CAN_CTRLMODE_FD);
		if (err)
			goto err_del_vqs;
	}
	netif_napi_add(ndev, &p->napi, vcan_poll);

	virtio_device_ready(vdev);
	/* "The driver MUST populate the Rxq with empty device-writeable
	 * buffers of at least the size of struct virtio_can_rx."
	 */
	for (i = 0; i < p->rx_num; i++) {
		err = vcan_rx_add(p, &p->rx[i], GFP_KERNEL);
		if (err)
			break;
	}
	if (i == 0)
		goto err_reset;
	virtqueue_kick(p->rxq);

	err = register_candev(ndev);
	if (err)
		goto err_reset;
	netdev_info(ndev, "virtio CAN:%s%s%s%s, %u Tx slots, %u Rx buffers\n",
		    classic ? " classic" : "", fd ? " FD" : "", p->rtr ? " RTR" : "",
		    virtio_has_feature(vdev, VIRTIO_CAN_F_LATE_TX_ACK) ? " late-Tx-ack" : "",
		    tx_max, i);
	return 0;

err_reset:
	virtio_reset_device(vdev);
	netif_napi_del(&p->napi);
err_del_vqs:
	vdev->config->del_vqs(vdev);
	vcan_free(p);
err_free_dev:
	vdev->priv = NULL;
	free_candev(ndev);
	return err;
}

static void vcan_remove(struct virtio_device *vdev)
{
	struct net_device *ndev = vdev->priv;
	struct vcan_priv *p = netdev_priv(ndev);
	unsigned long flags;

	spin_lock_irqsave(&p->cfg_lock, flags);
	p->cfg_off = true;
	spin_unlock_irqrestore(&p->cfg_lock, flags);
	cancel_work_sync(&p->cfg_work);
	/* Stops the controller (ndo_stop) while the queues still work. */
	unregister_candev(ndev);
	virtio_reset_device(vdev);
	/* The buffers are ours (arrays in p); only the rings let go of them. */
	while (virtqueue_detach_unused_buf(p->txq))
		;
	while (virtqueue_detach_unused_buf(p->rxq))
		;
	while (virtqueue_detach_unused_buf(p->ctlq))
		;
	vdev->config->del_vqs(vdev);
	netif_napi_del(&p->napi);
	vcan_free(p);
	free_candev(ndev);
}

static const struct virtio_device_id vcan_id_table[] = {
	{ VIRTIO_CAN_DEVICE_ID, VIRTIO_DEV_ANY_ID },
	{ 0 },
};
MODULE_DEVICE_TABLE(virtio, vcan_id_table);

static const unsigned int vcan_features[] = {
	VIRTIO_CAN_F_CAN_CLASSIC,
	VIRTIO_CAN_F_CAN_FD,
	VIRTIO_CAN_F_RTR_FRAMES,
	VIRTIO_CAN_F_LATE_TX_ACK,
};

static struct virtio_driver vcan_driver = {
	.driver.name = KBUILD_MODNAME,
	.id_table = vcan_id_table,
	.feature_table = vcan_features,
	.feature_table_size = ARRAY_SIZE(vcan_features),
	.validate = vcan_validate,
	.probe = vcan_probe,
	.remove = vcan_remove,
	.config_changed = vcan_config_changed,
};
module_virtio_driver(vcan_driver);

MODULE_DESCRIPTION("SocketCAN driver for the virtio CAN device (VIRTIO 1.4)");
MODULE_AUTHOR("the avp project");
MODULE_LICENSE("GPL");
