/* Device interrupt allocator (avp/irq_alloc.h). A bump allocator over
 * ranges is enough: devices are placed once, at machine assembly, and
 * never unplugged. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "avp/irq_alloc.h"

static uint64_t range_end(const struct irq_range *r)
{
	return (uint64_t)r->first + r->count;
}

int irq_alloc_init(struct irq_alloc *a, enum irq_kind kind, const struct irq_range *ranges,
		   unsigned int n)
{
	memset(a, 0, sizeof(*a));
	if (!ranges || n == 0 || n > IRQ_ALLOC_MAX_RANGES)
		return -EINVAL;
	for (unsigned int i = 0; i < n; i++) {
		if (ranges[i].count == 0 || range_end(&ranges[i]) > UINT32_MAX + 1ull)
			return -EINVAL;
		for (unsigned int j = 0; j < i; j++)
			if (ranges[i].first < range_end(&ranges[j]) &&
			    ranges[j].first < range_end(&ranges[i]))
				return -EINVAL;
	}
	a->kind = kind;
	memcpy(a->ranges, ranges, n * sizeof(*ranges));
	a->nranges = n;
	for (unsigned int i = 0; i < n; i++)
		a->capacity += ranges[i].count;
	return 0;
}

int irq_alloc_get(struct irq_alloc *a, uint32_t count, uint32_t *first)
{
	if (count == 0)
		return -EINVAL;
	for (unsigned int i = a->cur; i < a->nranges; i++) {
		uint32_t used = i == a->cur ? a->cur_used : 0;

		if (a->ranges[i].count - used < count)
			continue;
		*first = a->ranges[i].first + used;
		a->cur = i;
		a->cur_used = used + count;
		a->allocated += count;
		return 0;
	}
	return -ENOSPC;
}

const char *irq_kind_name(enum irq_kind kind)
{
	switch (kind) {
	case IRQ_KIND_GSI:
		return "I/O APIC input";
	case IRQ_KIND_SPI:
		return "SPI";
	case IRQ_KIND_MSI:
		return "MSI vector";
	}
	return "interrupt";
}

int irq_alloc_format(const struct irq_alloc *a, char *buf, size_t len)
{
	int total = 0;

	if (len)
		buf[0] = '\0';
	for (unsigned int i = 0; i < a->nranges; i++) {
		const struct irq_range *r = &a->ranges[i];
		size_t off = (size_t)total < len ? (size_t)total : len;
		const char *sep = i ? ", " : "";
		int n = r->count == 1
				? snprintf(buf + off, len - off, "%s%u", sep, r->first)
				: snprintf(buf + off, len - off, "%s%u-%u", sep, r->first,
					   (uint32_t)(range_end(r) - 1));

		if (n < 0)
			return n;
		total += n;
	}
	return total;
}
