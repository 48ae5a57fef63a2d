/* Applies a VM's partition (AVP-PART-2/3) to the calling vCPU thread and to
 * guest RAM. Kept out of vcpu.c and vm.c so those stay about KVM. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "avp/log.h"
#include "avp/partition.h"

int partition_apply_vcpu(const struct avp_config *cfg, unsigned int index)
{
	char name[16];
	int ret;

	/* Thread names are at most 15 bytes; "vcpu63" fits. Naming is a
	 * convenience, so its failure is not fatal. */
	snprintf(name, sizeof(name), "vcpu%u", index);
	pthread_setname_np(pthread_self(), name);
	if (!cfg)
		return 0;
	if (cfg->affinity_set && index < AVP_MAX_CPUS) {
		cpu_set_t set;
		int cpu = cfg->cpu_affinity[index];

		if (cpu < 0 || cpu >= CPU_SETSIZE) {
			avp_err("vCPU %u: host CPU %d does not exist", index, cpu);
			return -EINVAL;
		}
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		ret = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
		if (ret) {
			avp_err("vCPU %u: cannot pin to host CPU %d: %s (is the CPU online and "
				"allowed to avp's cpuset?)", index, cpu, strerror(ret));
			return -ret;
		}
	}
	if (cfg->sched_class == AVP_SCHED_FIFO) {
		struct sched_param sp = { .sched_priority = cfg->sched_priority };

		ret = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
		if (ret) {
			avp_err("vCPU %u: cannot use SCHED_FIFO priority %d: %s (needs "
				"CAP_SYS_NICE or an RLIMIT_RTPRIO allowance)", index,
				cfg->sched_priority, strerror(ret));
			return -ret;
		}
	}
	return 0;
}

int partition_mmap_flags(const struct avp_config *cfg)
{
	return cfg && cfg->mem_reserve ? MAP_POPULATE : MAP_NORESERVE;
}

int partition_lock_memory(const struct avp_config *cfg, void *addr, size_t size)
{
	if (!cfg || !cfg->mem_reserve)
		return 0;
	if (mlock(addr, size)) {
		int err = errno;

		avp_err("memory.reserve: cannot lock %zu MiB of guest memory: %s (raise "
			"RLIMIT_MEMLOCK, e.g. ulimit -l unlimited, or run as root)", size >> 20,
			strerror(err));
		return -err;
	}
	return 0;
}
