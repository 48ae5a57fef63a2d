/* virtio-gpio (VIRTIO 1.3, "GPIO Device", device ID 41): lines simulated
 * in avp. The host is the world outside the lines: through the control
 * socket's "gpio" command (docs/api.md) it sets the level an input line
 * sees, reads any line, and fetches the edges the guest drove on its
 * outputs as events.
 *
 * Two queues: requestq (0), one request and one response buffer per
 * message, answered at once; eventq (1, with VIRTIO_GPIO_F_IRQ), where
 * the driver leaves one buffer pair per line to unmask its interrupt. We
 * hold such a pair until the line's interrupt fires, then return it with
 * status VALID, which masks the line again ("eventq Operation").
 *
 * The control thread only changes line state under dev->lock and pokes
 * the device thread, which alone touches the queues. */
#include <endian.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avp/api_cmd.h"
#include "avp/devices/dev_wait.h"
#include "avp/devices/virtio_gpio.h"
#include "avp/log.h"
#include "avp/vm.h"

struct gline {
	uint8_t dir;	   /* VIRTIO_GPIO_DIRECTION_* */
	uint8_t out_value; /* what the guest drives (or will, once an output) */
	uint8_t in_value;  /* what the host puts on the line */
	uint8_t irq_type;  /* VIRTIO_GPIO_IRQ_TYPE_* */
	bool latched;	   /* an edge seen while masked */
	bool held;	   /* an eventq pair is waiting: the line is unmasked */
	uint16_t held_head;
	uint8_t *held_status; /* its response byte, in guest RAM */
};

struct gpio_event {
	uint16_t line;
	uint8_t value;
	uint64_t seq;
};

struct vgpio {
	struct virtio_dev dev;
	struct virtio_gpio_config config;
	uint32_t nlines;
	char names[AVP_GPIO_NAMES_MAX];
	uint32_t names_len;
	struct gline lines[AVP_GPIO_MAX_LINES];

	struct gpio_event events[VIRTIO_GPIO_EVENT_RING];
	unsigned int ev_head, ev_count;
	uint64_t ev_seq, ev_dropped;

	struct dev_resched resched;
	struct virtq_chain chain;
};

static struct vgpio *vg_of(struct virtio_dev *dev)
{
	return dev->priv;
}

/* ---- names ---- */

int virtio_gpio_names_block(const char *names, uint32_t lines, char *block, uint32_t *len,
			    const char **why)
{
	uint32_t line = 0, n = 0;
	const char *p = names;

	*len = 0;
	if (!names)
		return 0;
	if (lines > AVP_GPIO_MAX_LINES)
		return *why = "too many lines", -EINVAL;
	for (;;) {
		size_t l = strcspn(p, ":");

		if (line >= lines)
			return *why = "more names than lines", -EINVAL;
		if (l > AVP_GPIO_MAX_NAME)
			return *why = "a line name is longer than 31 characters", -EINVAL;
		for (size_t i = 0; i < l; i++)
			if (p[i] < 0x20 || p[i] > 0x7e)
				return *why = "line names are printable ASCII", -EINVAL;
		/* "must be unique within a GPIO Device" (Get Line Names) */
		for (uint32_t off = 0; l && off < n; off += (uint32_t)strlen(block + off) + 1)
			if (strlen(block + off) == l && memcmp(block + off, p, l) == 0)
				return *why = "a line name is given twice", -EINVAL;
		memcpy(block + n, p, l);
		block[n + l] = '\0';
		n += (uint32_t)l + 1;
		line++;
		if (p[l] != ':')
			break;
		p += l + 1;
	}
	/* Lines past the last name have none: an empty string each. */
	for (; line < lines; line++)
		block[n++] = '\0';
	*len = n;
	return 0;
}

/* The index'th name in the block, or "". */
static const char *line_name(const struct vgpio *g, uint32_t index)
{
	uint32_t off = 0;

	if (!g->names_len)
		return "";
	for (uint32_t i = 0; i < index && off < g->names_len; i++)
		off += (uint32_t)strlen(g->names + off) + 1;
	return off < g->names_len ? g->names + off : "";
}

/* ---- guest edges, for the host ---- */

static void record_edge(struct vgpio *g, uint32_t line, uint8_t value)
{
	struct gpio_event *e;

	if (g->ev_count == VIRTIO_GPIO_EVENT_RING) {
		/* Keep the newest: the host wants the line's current story. */
		g->ev_head = (g->ev_head + 1) % VIRTIO_GPIO_EVENT_RING;
		g->ev_count--;
		g->ev_dropped++;
	}
	e = &g->events[(g->ev_head + g->ev_count) % VIRTIO_GPIO_EVENT_RING];
	*e = (struct gpio_event){ .line = (uint16_t)line, .value = value, .seq = ++g->ev_seq };
	g->ev_count++;
}

/* The level the guest drives, or -1 when it drives none. */
static int driven(const struct gline *l)
{
	return l->dir == VIRTIO_GPIO_DIRECTION_OUT ? l->out_value : -1;
}

static uint8_t level(const struct gline *l)
{
	return l->dir == VIRTIO_GPIO_DIRECTION_OUT ? l->out_value : l->in_value;
}

/* ---- interrupts (eventq) ---- */

static void give_back(struct vgpio *g, struct gline *l, uint8_t status)
{
	if (!l->held)
		return;
	*l->held_status = status;
	l->held = false;
	virtio_dev_complete(&g->dev, VIRTIO_GPIO_EVENTQ, l->held_head, 1);
}

/* Fires the line's interrupt if it is enabled, unmasked and pending. */
static void try_fire(struct vgpio *g, struct gline *l)
{
	bool fire = false;

	if (!l->held || l->irq_type == VIRTIO_GPIO_IRQ_TYPE_NONE)
		return;
	if (l->irq_type & VIRTIO_GPIO_IRQ_TYPE_EDGE_BOTH) {
		fire = l->latched;
		l->latched = false;
	} else if (l->irq_type == VIRTIO_GPIO_IRQ_TYPE_LEVEL_HIGH) {
		fire = l->in_value == 1;
	} else if (l->irq_type == VIRTIO_GPIO_IRQ_TYPE_LEVEL_LOW) {
		fire = l->in_value == 0;
	}
	if (fire)
		give_back(g, l, VIRTIO_GPIO_IRQ_STATUS_VALID);
}

static void fire_all(struct vgpio *g)
{
	for (uint32_t i = 0; i < g->nlines; i++)
		try_fire(g, &g->lines[i]);
}

/* The first writable byte of the chain, or NULL. */
static uint8_t *first_in_byte(const struct virtq_chain *c)
{
	for (unsigned int i = c->n_out; i < c->n_out + c->n_in; i++)
		if (c->iov[i].iov_len)
			return c->iov[i].iov_base;
	return NULL;
}

static void take_unmask(struct vgpio *g)
{
	const struct virtq_chain *c = &g->chain;
	struct virtio_gpio_irq_request req;
	uint8_t *status = first_in_byte(c);
	struct gline *l;
	uint16_t line;

	if (c->out_bytes < sizeof(req) || !status) {
		if (status)
			*status = VIRTIO_GPIO_IRQ_STATUS_INVALID;
		virtio_dev_complete(&g->dev, VIRTIO_GPIO_EVENTQ, c->head, status ? 1 : 0);
		return;
	}
	virtq_chain_read(c, 0, &req, sizeof(req));
	line = le16toh(req.gpio);
	l = line < g->nlines ? &g->lines[line] : NULL;
	/* Out of range, a second pair for a line (the driver MUST NOT), or a
	 * line whose interrupt is not enabled ("unmasked without being
	 * enabled first": returned INVALID). */
	if (!l || l->held || l->irq_type == VIRTIO_GPIO_IRQ_TYPE_NONE ||
	    l->dir == VIRTIO_GPIO_DIRECTION_OUT) {
		*status = VIRTIO_GPIO_IRQ_STATUS_INVALID;
		virtio_dev_complete(&g->dev, VIRTIO_GPIO_EVENTQ, c->head, 1);
		return;
	}
	l->held = true;
	l->held_head = c->head;
	l->held_status = status;
	try_fire(g, l);
}

static void serve_eventq(struct vgpio *g)
{
	struct virtio_dev *dev = &g->dev;

	if (!virtio_has_feature(dev, VIRTIO_GPIO_F_IRQ) || !dev->vqs[VIRTIO_GPIO_EVENTQ].ready)
		return;
	for (unsigned int i = 0; i < VIRTIO_GPIO_BUDGET; i++) {
		int ret = virtq_pop(&dev->vqs[VIRTIO_GPIO_EVENTQ], &g->chain);

		if (ret == 0)
			return;
		if (ret == -EIO) {
			virtio_dev_needs_reset(dev, "event ring is broken");
			return;
		}
		if (ret == 1)
			take_unmask(g);
		else if (g->chain.head != UINT16_MAX)
			virtio_dev_complete(dev, VIRTIO_GPIO_EVENTQ, g->chain.head, 0);
	}
	dev_resched_request(&g->resched);
}

/* ---- requests (requestq) ---- */

/* Forgets what the guest set up on the line ("MUST discard all state
 * information ... once the driver has requested to set its direction to
 * VIRTIO_GPIO_DIRECTION_NONE"); the host's level stays, it is not the
 * guest's. */
static void line_release(struct vgpio *g, struct gline *l)
{
	give_back(g, l, VIRTIO_GPIO_IRQ_STATUS_INVALID);
	l->dir = VIRTIO_GPIO_DIRECTION_NONE;
	l->out_value = 0;
	l->irq_type = VIRTIO_GPIO_IRQ_TYPE_NONE;
	l->latched = false;
}

static bool irq_type_valid(uint32_t t)
{
	return t == VIRTIO_GPIO_IRQ_TYPE_NONE || t == VIRTIO_GPIO_IRQ_TYPE_EDGE_RISING ||
	       t == VIRTIO_GPIO_IRQ_TYPE_EDGE_FALLING || t == VIRTIO_GPIO_IRQ_TYPE_EDGE_BOTH ||
	       t == VIRTIO_GPIO_IRQ_TYPE_LEVEL_HIGH || t == VIRTIO_GPIO_IRQ_TYPE_LEVEL_LOW;
}

/* One message; its response value in *value. true: OK. */
static bool handle(struct vgpio *g, const struct virtio_gpio_request *req, uint8_t *value)
{
	uint16_t type = le16toh(req->type), line = le16toh(req->gpio);
	uint32_t v = le32toh(req->value);
	struct gline *l = line < g->nlines ? &g->lines[line] : NULL;
	int before;

	*value = 0;
	if (!l)
		return false;
	switch (type) {
	case VIRTIO_GPIO_MSG_GET_DIRECTION:
		*value = l->dir;
		return true;
	case VIRTIO_GPIO_MSG_SET_DIRECTION:
		if (v > VIRTIO_GPIO_DIRECTION_IN)
			return false;
		if (v == VIRTIO_GPIO_DIRECTION_NONE) {
			line_release(g, l);
			return true;
		}
		before = driven(l);
		if (v == VIRTIO_GPIO_DIRECTION_OUT) {
			/* An output has no interrupt: the driver MUST NOT
			 * have one there; drop what it left. */
			give_back(g, l, VIRTIO_GPIO_IRQ_STATUS_INVALID);
			l->irq_type = VIRTIO_GPIO_IRQ_TYPE_NONE;
			l->latched = false;
		}
		l->dir = (uint8_t)v;
		if (driven(l) >= 0 && driven(l) != before)
			record_edge(g, line, l->out_value);
		return true;
	case VIRTIO_GPIO_MSG_GET_VALUE:
		*value = level(l);
		return true;
	case VIRTIO_GPIO_MSG_SET_VALUE:
		if (v > 1)
			return false;
		before = driven(l);
		l->out_value = (uint8_t)v; /* used when it becomes an output */
		if (driven(l) >= 0 && driven(l) != before)
			record_edge(g, line, l->out_value);
		return true;
	case VIRTIO_GPIO_MSG_SET_IRQ_TYPE:
		if (!virtio_has_feature(&g->dev, VIRTIO_GPIO_F_IRQ) || !irq_type_valid(v) ||
		    l->dir == VIRTIO_GPIO_DIRECTION_OUT)
			return false;
		if (v == VIRTIO_GPIO_IRQ_TYPE_NONE) {
			give_back(g, l, VIRTIO_GPIO_IRQ_STATUS_INVALID);
		}
		/* Edges count from now on, none from before. */
		l->irq_type = (uint8_t)v;
		l->latched = false;
		try_fire(g, l);
		return true;
	default:
		return false; /* unknown type */
	}
}

static void serve_request(struct vgpio *g)
{
	const struct virtq_chain *c = &g->chain;
	struct virtio_gpio_request req;
	struct virtio_gpio_response resp = { VIRTIO_GPIO_STATUS_ERR, 0 };
	uint32_t written;

	if (c->out_bytes < sizeof(req) || c->in_bytes < 1) {
		/* Nothing to answer in, or nothing asked: ERR if we can. */
		written = (uint32_t)virtq_chain_write(c, 0, &resp, 1);
		virtio_dev_complete(&g->dev, VIRTIO_GPIO_REQUESTQ, c->head, written);
		return;
	}
	virtq_chain_read(c, 0, &req, sizeof(req));
	if (le16toh(req.type) == VIRTIO_GPIO_MSG_GET_LINE_NAMES) {
		/* status, then the whole block: the driver sized its buffer
		 * from gpio_names_size; a smaller one, or a device without
		 * names, gets ERR. */
		if (g->names_len && le16toh(req.gpio) == 0 && c->in_bytes >= 1 + (size_t)g->names_len) {
			resp.status = VIRTIO_GPIO_STATUS_OK;
			virtq_chain_write(c, 0, &resp.status, 1);
			virtq_chain_write(c, 1, g->names, g->names_len);
			written = 1 + g->names_len;
		} else {
			written = (uint32_t)virtq_chain_write(c, 0, &resp.status, 1);
		}
		virtio_dev_complete(&g->dev, VIRTIO_GPIO_REQUESTQ, c->head, written);
		return;
	}
	if (c->in_bytes >= sizeof(resp) && handle(g, &req, &resp.value))
		resp.status = VIRTIO_GPIO_STATUS_OK;
	written = (uint32_t)virtq_chain_write(c, 0, &resp, sizeof(resp));
	virtio_dev_complete(&g->dev, VIRTIO_GPIO_REQUESTQ, c->head, written);
}

static void serve_requestq(struct vgpio *g)
{
	struct virtio_dev *dev = &g->dev;

	for (unsigned int i = 0; i < VIRTIO_GPIO_BUDGET; i++) {
		int ret = virtq_pop(&dev->vqs[VIRTIO_GPIO_REQUESTQ], &g->chain);

		if (ret == 0)
			return;
		if (ret == -EIO) {
			virtio_dev_needs_reset(dev, "request ring is broken");
			return;
		}
		if (ret == 1)
			serve_request(g);
		else if (g->chain.head != UINT16_MAX)
			virtio_dev_complete(dev, VIRTIO_GPIO_REQUESTQ, g->chain.head, 0);
	}
	dev_resched_request(&g->resched);
}

/* ---- device ops ---- */

static void vg_queue_notify(struct virtio_dev *dev, uint16_t q)
{
	struct vgpio *g = vg_of(dev);

	if (q == VIRTIO_GPIO_REQUESTQ)
		serve_requestq(g);
	else if (q == VIRTIO_GPIO_EVENTQ)
		serve_eventq(g);
}

static void vg_fd_ready(struct virtio_dev *dev, int fd, uint32_t events)
{
	struct vgpio *g = vg_of(dev);

	(void)events;
	if (!dev_resched_take(&g->resched, fd))
		return;
	if (dev->vqs[VIRTIO_GPIO_REQUESTQ].ready)
		serve_requestq(g);
	serve_eventq(g);
	fire_all(g);
}

static uint64_t vg_features(struct virtio_dev *dev)
{
	(void)dev;
	return 1ull << VIRTIO_GPIO_F_IRQ;
}

static int vg_activate(struct virtio_dev *dev)
{
	return dev_watch_set(dev, &vg_of(dev)->resched.watch, true);
}

static void lines_init(struct vgpio *g)
{
	/* Every line starts as an input, low, no interrupt: what the guest
	 * finds before it configures anything. */
	for (uint32_t i = 0; i < g->nlines; i++) {
		uint8_t host = g->lines[i].in_value;

		g->lines[i] = (struct gline){ .dir = VIRTIO_GPIO_DIRECTION_IN, .in_value = host };
	}
}

static void vg_reset(struct virtio_dev *dev)
{
	struct vgpio *g = vg_of(dev);

	dev_watch_set(dev, &g->resched.watch, false);
	dev_resched_take(&g->resched, g->resched.watch.fd);
	/* Held eventq buffers belong to the driver that is gone. */
	lines_init(g);
}

static void vg_destroy(struct virtio_dev *dev)
{
	struct vgpio *g = vg_of(dev);

	virtio_dev_fini(dev);
	dev_resched_fini(&g->resched);
	free(g);
}

static const struct virtio_dev_ops vg_ops = {
	.type = "virtio-gpio",
	.device_id = VIRTIO_ID_GPIO,
	.num_queues = 2,
	.features = vg_features,
	.activate = vg_activate,
	.queue_notify = vg_queue_notify,
	.fd_ready = vg_fd_ready,
	.reset = vg_reset,
	.destroy = vg_destroy,
};

int virtio_gpio_create(struct virtio_dev **out, const struct avp_gpio_cfg *cfg)
{
	struct vgpio *g;
	const char *why = NULL;
	int ret;

	if (cfg->lines == 0 || cfg->lines > AVP_GPIO_MAX_LINES)
		return -EINVAL;
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	ret = virtio_gpio_names_block(cfg->names, cfg->lines, g->names, &g->names_len, &why);
	if (ret) {
		avp_err("virtio-gpio: names: %s", why);
		free(g);
		return ret;
	}
	ret = dev_resched_init(&g->resched);
	if (ret) {
		avp_err("virtio-gpio: eventfd: %s", strerror(-ret));
		free(g);
		return ret;
	}
	g->nlines = cfg->lines;
	lines_init(g);
	g->config.ngpio = htole16((uint16_t)cfg->lines);
	g->config.gpio_names_size = htole32(g->names_len);
	virtio_dev_init(&g->dev, &vg_ops, g, &g->config, sizeof(g->config));
	*out = &g->dev;
	return 0;
}

/* ---- the "gpio" command (control thread) ---- */

static const char *dir_name(uint8_t dir)
{
	switch (dir) {
	case VIRTIO_GPIO_DIRECTION_OUT:
		return "out";
	case VIRTIO_GPIO_DIRECTION_IN:
		return "in";
	default:
		return "none";
	}
}

static const char *irq_name(uint8_t t)
{
	switch (t) {
	case VIRTIO_GPIO_IRQ_TYPE_EDGE_RISING:
		return "rising";
	case VIRTIO_GPIO_IRQ_TYPE_EDGE_FALLING:
		return "falling";
	case VIRTIO_GPIO_IRQ_TYPE_EDGE_BOTH:
		return "both";
	case VIRTIO_GPIO_IRQ_TYPE_LEVEL_HIGH:
		return "high";
	case VIRTIO_GPIO_IRQ_TYPE_LEVEL_LOW:
		return "low";
	default:
		return "none";
	}
}

static json_object *line_json(const struct vgpio *g, uint32_t i)
{
	const struct gline *l = &g->lines[i];
	json_object *o = json_object_new_object();

	json_object_object_add(o, "line", json_object_new_int((int)i));
	json_object_object_add(o, "name", json_object_new_string(line_name(g, i)));
	json_object_object_add(o, "direction", json_object_new_string(dir_name(l->dir)));
	json_object_object_add(o, "value", json_object_new_int(level(l)));
	json_object_object_add(o, "input", json_object_new_int(l->in_value));
	json_object_object_add(o, "irq", json_object_new_string(irq_name(l->irq_type)));
	return o;
}

static int fail(json_object *reply, const char *msg, int err)
{
	json_object_object_add(reply, "error", json_object_new_string(msg));
	return err;
}

/* "line": N or "name": "X" to a line index; -1 (and the error) if neither works. */
static int pick_line(const struct vgpio *g, json_object *args, json_object *reply)
{
	json_object *v;

	if (json_object_object_get_ex(args, "line", &v)) {
		int64_t n;

		if (!json_object_is_type(v, json_type_int))
			return fail(reply, "\"line\" is a line number", -1);
		n = json_object_get_int64(v);
		if (n < 0 || n >= (int64_t)g->nlines) {
			char msg[64];

			snprintf(msg, sizeof(msg), "no line %lld: lines are 0 to %u", (long long)n,
				 g->nlines - 1);
			return fail(reply, msg, -1);
		}
		return (int)n;
	}
	if (json_object_object_get_ex(args, "name", &v) && json_object_is_type(v, json_type_string)) {
		const char *want = json_object_get_string(v);

		for (uint32_t i = 0; *want && i < g->nlines; i++)
			if (strcmp(line_name(g, i), want) == 0)
				return (int)i;
		return fail(reply, "no line has that name", -1);
	}
	return fail(reply, "say which line: \"line\": N or \"name\": \"...\"", -1);
}

static int take_events(struct vgpio *g, json_object *reply)
{
	json_object *arr = json_object_new_array();

	while (g->ev_count) {
		const struct gpio_event *e = &g->events[g->ev_head];
		json_object *o = json_object_new_object();

		json_object_object_add(o, "line", json_object_new_int(e->line));
		json_object_object_add(o, "name", json_object_new_string(line_name(g, e->line)));
		json_object_object_add(o, "value", json_object_new_int(e->value));
		json_object_object_add(o, "seq", json_object_new_int64((int64_t)e->seq));
		json_object_array_add(arr, o);
		g->ev_head = (g->ev_head + 1) % VIRTIO_GPIO_EVENT_RING;
		g->ev_count--;
	}
	json_object_object_add(reply, "events", arr);
	json_object_object_add(reply, "dropped", json_object_new_int64((int64_t)g->ev_dropped));
	return 0;
}

static int command_locked(struct vgpio *g, json_object *args, json_object *reply)
{
	json_object *v, *events = NULL, *value = NULL;
	int line;

	if (!args || json_object_object_length(args) == 0) {
		json_object *arr = json_object_new_array();

		for (uint32_t i = 0; i < g->nlines; i++)
			json_object_array_add(arr, line_json(g, i));
		json_object_object_add(reply, "lines", arr);
		return 0;
	}
	json_object_object_foreach(args, key, val)
	{
		(void)val;
		if (strcmp(key, "line") && strcmp(key, "name") && strcmp(key, "value") &&
		    strcmp(key, "events"))
			return fail(reply, "gpio takes \"line\" or \"name\", \"value\", \"events\"",
				    -EINVAL);
	}
	if (json_object_object_get_ex(args, "events", &events)) {
		if (!json_object_is_type(events, json_type_boolean) || !json_object_get_boolean(events) ||
		    json_object_object_length(args) != 1)
			return fail(reply, "\"events\": true, on its own, fetches the guest's edges",
				    -EINVAL);
		return take_events(g, reply);
	}
	line = pick_line(g, args, reply);
	if (line < 0)
		return -EINVAL;
	if (json_object_object_get_ex(args, "value", &value)) {
		struct gline *l = &g->lines[line];
		int64_t nv;
		uint8_t old = l->in_value;

		if (!json_object_is_type(value, json_type_int) ||
		    ((nv = json_object_get_int64(value)) != 0 && nv != 1))
			return fail(reply, "\"value\" is 0 or 1", -EINVAL);
		l->in_value = (uint8_t)nv;
		if (l->dir != VIRTIO_GPIO_DIRECTION_OUT && (l->irq_type & VIRTIO_GPIO_IRQ_TYPE_EDGE_BOTH) &&
		    ((old == 0 && nv == 1 && (l->irq_type & VIRTIO_GPIO_IRQ_TYPE_EDGE_RISING)) ||
		     (old == 1 && nv == 0 && (l->irq_type & VIRTIO_GPIO_IRQ_TYPE_EDGE_FALLING))))
			l->latched = true; /* "MUST latch an edge interrupt" while masked */
		/* The device thread fires what is now pending. */
		dev_resched_request(&g->resched);
	}
	v = line_json(g, (uint32_t)line);
	json_object_object_foreach(v, k, val2)
		json_object_object_add(reply, k, json_object_get(val2));
	json_object_put(v);
	return 0;
}

int virtio_gpio_command(struct virtio_dev *dev, json_object *args, json_object *reply)
{
	struct vgpio *g = vg_of(dev);
	int ret;

	if (args && !json_object_is_type(args, json_type_object))
		return fail(reply, "args must be an object", -EINVAL);
	pthread_mutex_lock(&dev->lock);
	ret = command_locked(g, args, reply);
	pthread_mutex_unlock(&dev->lock);
	return ret;
}

static int gpio_command(void *opaque, json_object *args, json_object *reply)
{
	return virtio_gpio_command(opaque, args, reply);
}

int virtio_gpio_register_api(struct vm *vm, struct virtio_dev *dev)
{
	return vm_api_register(vm, "gpio", gpio_command, dev);
}
