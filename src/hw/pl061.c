/* PL061 GPIO (include/avp/hw/pl061.h), after the PrimeCell GPIO (PL061)
 * Technical Reference Manual, ARM DDI 0190, chapter 3.
 *
 * A line's pin is what the guest wrote when GPIODIR makes it an output,
 * else what the platform drives. Interrupt detection watches the pins:
 * an edge-sensitive line (GPIOIS 0) latches its GPIORIS bit on the edge
 * GPIOIEV selects, or on both with GPIOIBE, until GPIOIC clears it; a
 * level-sensitive one (GPIOIS 1) shows in GPIORIS while its pin is at the
 * GPIOIEV level, whatever GPIOIC says. GPIOAFSEL (hardware control) is
 * kept but changes nothing: no other hardware drives these lines. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "avp/hw/hw_timer.h"
#include "avp/hw/pl061.h"
#include "avp/hw/primecell.h"

struct pl061 {
	pthread_mutex_t lock;
	struct pl061_ops ops;
	struct hw_timer *release; /* lets pressed buttons go */
	uint8_t pressed;	  /* lines pl061_press holds down */
	uint8_t out, in, dir, is, ibe, iev, ie, ris, afsel;
	uint8_t pins; /* as last evaluated, for edges */
	int irq_level;
};

static uint8_t pins_now(const struct pl061 *g)
{
	return (uint8_t)((g->out & g->dir) | (g->in & ~g->dir));
}

/* Latches edges since the last evaluation, recomputes the level lines,
 * drives GPIOINTR. */
static void evaluate(struct pl061 *g)
{
	uint8_t now = pins_now(g), changed = now ^ g->pins;
	uint8_t rising = changed & now, falling = changed & g->pins;
	uint8_t edge = (uint8_t)((g->ibe & changed) | (~g->ibe & g->iev & rising) |
				 (~g->ibe & ~g->iev & falling));
	int level;

	g->ris |= edge & ~g->is;
	g->ris = (uint8_t)((g->ris & ~g->is) | (g->is & ~(now ^ g->iev)));
	g->pins = now;
	level = (g->ris & g->ie) != 0;
	if (level != g->irq_level && g->ops.set_irq)
		g->ops.set_irq(g->ops.opaque, level);
	g->irq_level = level;
}

static uint32_t reg_read(void *dev, unsigned int reg)
{
	struct pl061 *g = dev;

	if (reg < PL061_DIR)
		return pins_now(g) & (reg >> 2);
	switch (reg) {
	case PL061_DIR:
		return g->dir;
	case PL061_IS:
		return g->is;
	case PL061_IBE:
		return g->ibe;
	case PL061_IEV:
		return g->iev;
	case PL061_IE:
		return g->ie;
	case PL061_RIS:
		return g->ris;
	case PL061_MIS:
		return g->ris & g->ie;
	case PL061_AFSEL:
		return g->afsel;
	default: /* IC is write-only; the rest is reserved or test */
		return 0;
	}
}

/* The registers are 8 bits wide: only the low byte lane writes them. */
static void reg_write(void *dev, unsigned int reg, uint32_t val, uint32_t mask)
{
	struct pl061 *g = dev;
	uint8_t v = (uint8_t)val;

	if (!(mask & 0xff))
		return;
	if (reg < PL061_DIR) {
		uint8_t m = (uint8_t)(reg >> 2);

		g->out = (uint8_t)((g->out & ~m) | (v & m));
		evaluate(g);
		return;
	}
	switch (reg) {
	case PL061_DIR:
		g->dir = v;
		break;
	case PL061_IS:
		g->is = v;
		break;
	case PL061_IBE:
		g->ibe = v;
		break;
	case PL061_IEV:
		g->iev = v;
		break;
	case PL061_IE:
		g->ie = v;
		break;
	case PL061_IC:
		g->ris &= (uint8_t)~v;
		break;
	case PL061_AFSEL:
		g->afsel = v;
		break;
	default: /* RIS, MIS are read-only */
		break;
	}
	evaluate(g);
}

static const struct primecell_regs pl061_regs = {
	.read = reg_read,
	.write = reg_write,
	.periph_id = PL061_PERIPH_ID,
};

void pl061_io(void *opaque, uint64_t offset, void *data, uint32_t len, bool is_write)
{
	struct pl061 *g = opaque;

	if (!g || !data)
		return;
	pthread_mutex_lock(&g->lock);
	primecell_io(&pl061_regs, g, offset, data, len, is_write);
	pthread_mutex_unlock(&g->lock);
}

int pl061_set_input(struct pl061 *g, unsigned int line, int level)
{
	if (!g || line >= PL061_NLINES)
		return -EINVAL;
	pthread_mutex_lock(&g->lock);
	if (level)
		g->in |= (uint8_t)(1u << line);
	else
		g->in &= (uint8_t)~(1u << line);
	evaluate(g);
	pthread_mutex_unlock(&g->lock);
	return 0;
}

int pl061_press(struct pl061 *g, unsigned int line)
{
	int ret;

	if (g && line < PL061_NLINES && !g->release)
		return -ENOTSUP;
	ret = pl061_set_input(g, line, 1);
	if (ret)
		return ret;
	pthread_mutex_lock(&g->lock);
	g->pressed |= (uint8_t)(1u << line);
	pthread_mutex_unlock(&g->lock);
	hw_timer_arm(g->release, PL061_PRESS_MS * 1000000ull);
	return 0;
}

/* hw_timer fire: every button pressed is released together. */
static void release_buttons(void *opaque)
{
	struct pl061 *g = opaque;

	pthread_mutex_lock(&g->lock);
	g->in &= (uint8_t)~g->pressed;
	g->pressed = 0;
	evaluate(g);
	pthread_mutex_unlock(&g->lock);
}

int pl061_create(struct pl061 **out, const struct pl061_ops *ops)
{
	struct pl061 *g;
	int ret;

	if (!out)
		return -EINVAL;
	*out = NULL;
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	if (ops)
		g->ops = *ops;
	/* Only pressed buttons need releasing later. */
	ret = hw_timer_dev_init(&g->lock, &g->release,
				!g->ops.buttons ? NULL
						: &(struct hw_timer_ops){
							  .fire = release_buttons,
							  .thread_start = g->ops.thread_start,
							  .opaque = g,
							  .thread_opaque = g->ops.opaque,
							  .name = "avp-pl061" });
	if (ret) {
		free(g);
		return ret;
	}
	/* Reset: every line an input, low, no interrupts (TRM table 3-1). */
	*out = g;
	return 0;
}

void pl061_destroy(struct pl061 *g)
{
	if (!g)
		return;
	hw_timer_dev_fini(&g->lock, g->release);
	free(g);
}
