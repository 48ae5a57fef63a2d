/* MSI-X table, PBA and masking (avp/hw/msix.h). */
#include <errno.h>
#include <string.h>

#include "avp/hw/msix.h"
#include "avp/le.h"
#include "avp/log.h"

int msix_init(struct msix *m, uint16_t nvec, const struct msix_ops *ops, void *opaque)
{
	if (nvec == 0 || nvec > MSIX_MAX_VECTORS)
		return -EINVAL;
	memset(m, 0, sizeof(*m));
	pthread_mutex_init(&m->lock, NULL);
	m->nvec = nvec;
	m->ops = ops;
	m->opaque = opaque;
	msix_reset(m);
	return 0;
}

void msix_fini(struct msix *m)
{
	pthread_mutex_destroy(&m->lock);
}

void msix_reset(struct msix *m)
{
	pthread_mutex_lock(&m->lock);
	m->enabled = false;
	m->fmask = false;
	m->pba = 0;
	for (unsigned int v = 0; v < m->nvec; v++)
		m->table[v] = (struct msix_entry){ .ctrl = MSIX_VEC_MASKED };
	pthread_mutex_unlock(&m->lock);
}

void msix_fill_cap(const struct msix *m, uint8_t *cap, uint8_t bir, uint32_t table_off,
		   uint32_t pba_off)
{
	/* Table Size is N - 1; offsets are QWORD aligned, the BIR in bits 2:0. */
	put_le16(cap + 2, (uint16_t)(m->nvec - 1));
	put_le32(cap + 4, (table_off & ~7u) | (bir & 7u));
	put_le32(cap + 8, (pba_off & ~7u) | (bir & 7u));
}

/* Caller holds m->lock. */
static void deliver(struct msix *m, uint16_t v)
{
	const struct msix_entry *e = &m->table[v];
	uint64_t addr = (uint64_t)e->addr_hi << 32 | e->addr_lo;
	int ret = 0;

	m->pba &= ~(1ull << v);
	m->delivered[v]++;
	if (m->ops && m->ops->deliver)
		ret = m->ops->deliver(m->opaque, v, addr, e->data);
	if (ret)
		avp_warn("msi-x: vector %u: %s", v, strerror(-ret));
}

static bool vector_masked(const struct msix *m, uint16_t v)
{
	return m->fmask || (m->table[v].ctrl & MSIX_VEC_MASKED);
}

/* Caller holds m->lock: what unmasking released. */
static void deliver_pending(struct msix *m)
{
	if (!m->enabled)
		return;
	for (uint16_t v = 0; v < m->nvec && m->ops && m->ops->route; v++)
		if (!vector_masked(m, v))
			m->ops->route(m->opaque, v,
				      (uint64_t)m->table[v].addr_hi << 32 | m->table[v].addr_lo,
				      m->table[v].data);
	for (uint16_t v = 0; v < m->nvec; v++)
		if ((m->pba >> v & 1) && !vector_masked(m, v))
			deliver(m, v);
}

void msix_write_ctrl(struct msix *m, uint16_t ctrl)
{
	pthread_mutex_lock(&m->lock);
	m->enabled = ctrl & MSIX_CTRL_ENABLE;
	m->fmask = ctrl & MSIX_CTRL_FMASK;
	deliver_pending(m);
	pthread_mutex_unlock(&m->lock);
}

static bool access_ok(uint64_t off, uint32_t len, uint64_t size)
{
	return (len == 4 || len == 8) && !(off & (len - 1)) && off < size && len <= size - off;
}

void msix_table_access(struct msix *m, uint64_t off, void *data, uint32_t len, bool is_write)
{
	uint32_t dw[2] = { 0, 0 };

	pthread_mutex_lock(&m->lock);
	if (!access_ok(off, len, (uint64_t)m->nvec * MSIX_ENTRY_SIZE)) {
		if (!is_write)
			memset(data, 0, len);
		goto out;
	}
	if (!is_write) {
		for (uint32_t i = 0; i < len / 4; i++) {
			uint64_t o = off + 4 * i;

			dw[i] = ((uint32_t *)&m->table[o / MSIX_ENTRY_SIZE])[(o % MSIX_ENTRY_SIZE) / 4];
		}
		memcpy(data, dw, len);
		goto out;
	}
	memcpy(dw, data, len);
	for (uint32_t i = 0; i < len / 4; i++) {
		uint64_t o = off + 4 * i;
		uint16_t v = (uint16_t)(o / MSIX_ENTRY_SIZE);
		struct msix_entry *e = &m->table[v];

		switch ((o % MSIX_ENTRY_SIZE) / 4) {
		case 0:
			e->addr_lo = dw[i] & ~3u; /* bits 1:0 are reserved, zero */
			break;
		case 1:
			e->addr_hi = dw[i];
			break;
		case 2:
			e->data = dw[i];
			break;
		default:
			/* Only the mask bit is writable in Vector Control. */
			e->ctrl = dw[i] & MSIX_VEC_MASKED;
			break;
		}
	}
	deliver_pending(m);
out:
	pthread_mutex_unlock(&m->lock);
}

void msix_pba_access(struct msix *m, uint64_t off, void *data, uint32_t len, bool is_write)
{
	/* The PBA is read-only; writes are dropped (6.8.2.7 leaves them
	 * undefined). One QWORD covers the 64 vectors we allow. */
	pthread_mutex_lock(&m->lock);
	if (!is_write) {
		uint64_t v = access_ok(off, len, 8) ? m->pba >> (off * 8) : 0;

		if (len == 4)
			memcpy(data, &(uint32_t){ (uint32_t)v }, 4);
		else if (len == 8)
			memcpy(data, &v, 8);
		else
			memset(data, 0, len);
	}
	pthread_mutex_unlock(&m->lock);
}

bool msix_notify(struct msix *m, uint16_t vector)
{
	bool on;

	pthread_mutex_lock(&m->lock);
	on = m->enabled;
	if (on && vector < m->nvec) {
		if (vector_masked(m, vector))
			m->pba |= 1ull << vector;
		else
			deliver(m, vector);
	}
	pthread_mutex_unlock(&m->lock);
	return on;
}

bool msix_enabled(struct msix *m)
{
	bool on;

	pthread_mutex_lock(&m->lock);
	on = m->enabled;
	pthread_mutex_unlock(&m->lock);
	return on;
}
