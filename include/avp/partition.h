/* Partitioning of host resources for one VM (AVP-PART-2/3): vCPU pinning,
 * real-time scheduling and reserved guest memory. The settings come from
 * struct avp_config; these helpers only apply them. */
#ifndef AVP_PARTITION_H
#define AVP_PARTITION_H

#include <stddef.h>

#include "avp/config.h"

/* Called on vCPU thread `index` itself before its first KVM_RUN: names the
 * thread "vcpuN" (so tools and `avp state` can find it), pins it and sets
 * its scheduling class. 0 or -errno (reported); a VM that asked for a
 * partition must not run without it. cfg may be NULL (no settings). */
int partition_apply_vcpu(const struct avp_config *cfg, unsigned int index);

/* Locks [addr, addr+size) in RAM when cfg->mem_reserve (the pages were
 * pre-faulted by MAP_POPULATE). 0 or -errno (reported). */
int partition_lock_memory(const struct avp_config *cfg, void *addr, size_t size);

/* Extra mmap flags for guest RAM: MAP_POPULATE when reserving, otherwise
 * MAP_NORESERVE (overcommit is fine for ordinary VMs). */
int partition_mmap_flags(const struct avp_config *cfg);

#endif
