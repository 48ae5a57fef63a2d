/* libFuzzer target: a system file (src/runtime/system.c, which loads each
 * bundle it names with bundle_load), the bytes as the file's text.
 *
 * The system's directory, made once per process, holds four bundles the
 * text can name: "a" and "b" with a net device each on network
 * "backbone", "c" a critical VM pinned to host CPU 0, "d" a plain VM;
 * "bad" has a config.json that does not parse; "e" has a can device on
 * bus "body", "f" one on "body" and one on "chassis". Every other bundle path
 * does not exist and must simply be an error.
 *
 * Beyond the sanitizers: a rejection leaves a message and an empty
 * system; an accepted system has 1-16 VMs with valid, distinct IDs and
 * loaded bundles, at most 8 networks whose members exist, are listed once
 * and have a net device on that network, no host CPU pinned by two
 * critical VMs, and CAN buses as check_can says. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "avp/devices/virtio_can.h"
#include "avp/log.h"
#include "avp/runtime/state.h"
#include "avp/runtime/system.h"
#include "fuzz_config.h"
#include "fuzz_guest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static char dir[64];

static const struct {
	const char *name;
	const char *config;
} bundles[] = {
	{ "a", "{\"kernel\":\"vmlinuz\",\"devices\":[{\"type\":\"net\",\"network\":\"backbone\","
	       "\"mac\":\"52:54:00:00:00:01\"}]}" },
	{ "b", "{\"kernel\":\"vmlinuz\",\"devices\":[{\"type\":\"net\",\"network\":\"backbone\","
	       "\"mac\":\"52:54:00:00:00:02\"},{\"type\":\"net\",\"tap\":\"tapb\"}]}" },
	{ "c", "{\"kernel\":\"vmlinuz\",\"critical\":true,\"cpus\":{\"count\":1,\"affinity\":[0]}}" },
	{ "d", "{\"kernel\":\"vmlinuz\"}" },
	{ "bad", "{\"kernel\":" },
	{ "e", "{\"kernel\":\"vmlinuz\",\"devices\":[{\"type\":\"can\",\"bus\":\"body\"}]}" },
	{ "f", "{\"kernel\":\"vmlinuz\",\"devices\":[{\"type\":\"can\",\"bus\":\"body\"},"
	       "{\"type\":\"can\",\"bus\":\"chassis\"}]}" },
};
#define NBUNDLES (sizeof(bundles) / sizeof(bundles[0]))

static void put_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	if (!fp || fputs(text, fp) < 0 || fclose(fp)) {
		perror(path);
		exit(1);
	}
}

static void cleanup(void)
{
	char p[160];

	for (size_t i = 0; i < NBUNDLES; i++) {
		snprintf(p, sizeof(p), "%s/%s/config.json", dir, bundles[i].name);
		unlink(p);
		snprintf(p, sizeof(p), "%s/%s/vmlinuz", dir, bundles[i].name);
		unlink(p);
		snprintf(p, sizeof(p), "%s/%s", dir, bundles[i].name);
		rmdir(p);
	}
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char p[160];

	(void)argc;
	(void)argv;
	avp_log_set_level(AVP_LOG_ERROR);
	fuzz_tmpdir(dir, sizeof(dir), "system");
	atexit(cleanup);
	for (size_t i = 0; i < NBUNDLES; i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, bundles[i].name);
		mkdir(p, 0755);
		snprintf(p, sizeof(p), "%s/%s/config.json", dir, bundles[i].name);
		put_file(p, bundles[i].config);
		snprintf(p, sizeof(p), "%s/%s/vmlinuz", dir, bundles[i].name);
		put_file(p, "x");
	}
	return 0;
}

static bool on_network(const struct avp_bundle *b, const char *net)
{
	const struct avp_net_cfg *n;

	for (unsigned int i = 0; (n = avp_config_device(&b->cfg, &virtio_net_config, i)); i++)
		if (n->network && strcmp(n->network, net) == 0)
			return true;
	return false;
}

static bool on_can_bus(const struct avp_bundle *b, const char *bus)
{
	const struct avp_can_cfg *c;

	for (unsigned int i = 0; (c = avp_config_device(&b->cfg, &virtio_can_config, i)); i++)
		if (c->bus && strcmp(c->bus, bus) == 0)
			return true;
	return false;
}

/* CAN buses: named, on distinct interfaces, members that exist once with
 * a can device on the bus, rules of valid ranges without overlaps. */
static void check_can(const struct avp_system *s)
{
	FUZZ_CHECK(s->ncans <= SYS_MAX_CAN_BUSES);
	for (unsigned int n = 0; n < s->ncans; n++) {
		const struct sys_can_bus *bus = &s->cans[n];

		FUZZ_CHECK(strlen(bus->name) >= 1 && strlen(bus->name) <= SYS_NET_NAME_MAX);
		FUZZ_CHECK(strlen(bus->ifname) >= 1 && strlen(bus->ifname) < 16);
		for (unsigned int m = 0; m < n; m++)
			FUZZ_CHECK(strcmp(s->cans[m].ifname, bus->ifname) != 0 &&
				   strcmp(s->cans[m].name, bus->name) != 0);
		for (unsigned int k = 0; k < bus->nmembers; k++) {
			const struct avp_can_rules *rules[2] = { &bus->tx[k], &bus->rx[k] };

			FUZZ_CHECK(bus->members[k] < s->nvms);
			FUZZ_CHECK(on_can_bus(&s->vms[bus->members[k]].bundle, bus->name));
			for (unsigned int j = 0; j < k; j++)
				FUZZ_CHECK(bus->members[j] != bus->members[k]);
			for (unsigned int r = 0; r < 2; r++) {
				FUZZ_CHECK(rules[r]->n <= AVP_CAN_MAX_RANGES);
				for (unsigned int i = 0; i < rules[r]->n; i++) {
					const struct avp_can_range *a = &rules[r]->r[i];

					FUZZ_CHECK(a->lo <= a->hi && a->hi <= 0x1fffffffu);
					FUZZ_CHECK(a->kind != AVP_CAN_STD || a->hi <= 0x7ffu);
					for (unsigned int j = 0; j < i; j++) {
						const struct avp_can_range *b = &rules[r]->r[j];

						FUZZ_CHECK(!(a->kind & b->kind) || a->hi < b->lo ||
							   b->hi < a->lo);
					}
				}
			}
		}
	}
}

static void check_system(const struct avp_system *s)
{
	FUZZ_CHECK(s->nvms >= 1 && s->nvms <= SYS_MAX_VMS && s->nnets <= SYS_MAX_NETWORKS);
	for (unsigned int v = 0; v < s->nvms; v++) {
		FUZZ_CHECK(rt_id_valid(s->vms[v].id) == 0);
		FUZZ_CHECK(s->vms[v].bundle_dir && s->vms[v].bundle.dir && s->vms[v].bundle.cfg.kernel);
		fuzz_check_config(&s->vms[v].bundle.cfg);
		for (unsigned int w = 0; w < v; w++)
			FUZZ_CHECK(strcmp(s->vms[v].id, s->vms[w].id) != 0);
	}
	for (unsigned int n = 0; n < s->nnets; n++) {
		const struct sys_network *net = &s->nets[n];

		FUZZ_CHECK(strlen(net->name) >= 1 && strlen(net->name) <= SYS_NET_NAME_MAX);
		FUZZ_CHECK(net->nmembers <= s->nvms);
		for (unsigned int k = 0; k < net->nmembers; k++) {
			FUZZ_CHECK(net->members[k] < s->nvms);
			FUZZ_CHECK(on_network(&s->vms[net->members[k]].bundle, net->name));
			for (unsigned int j = 0; j < k; j++)
				FUZZ_CHECK(net->members[j] != net->members[k]);
		}
	}
	check_can(s);
	for (unsigned int v = 0; v < s->nvms; v++)
		for (unsigned int w = 0; w < v; w++) {
			const struct avp_config *a = &s->vms[v].bundle.cfg, *b = &s->vms[w].bundle.cfg;

			if (!s->vms[v].bundle.critical || !s->vms[w].bundle.critical)
				continue;
			for (unsigned int i = 0; i < a->cpus; i++)
				for (unsigned int j = 0; j < b->cpus; j++)
					FUZZ_CHECK(a->cpu_affinity[i] != b->cpu_affinity[j]);
		}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size ? size : 1);
	struct avp_system *s = malloc(sizeof(*s));
	struct jc_err e = { "" };
	int ret;

	if (!text || !s) {
		free(text);
		free(s);
		return 0;
	}
	memcpy(text, data, size);
	ret = system_parse(text, size, dir, s, &e);
	if (ret) {
		FUZZ_CHECK(ret == -EINVAL || ret == -ENOMEM);
		FUZZ_CHECK(ret == -ENOMEM || e.text[0]);
		FUZZ_CHECK(s->nvms == 0 && s->nnets == 0);
	} else {
		check_system(s);
		system_free(s);
	}
	free(text);
	free(s);
	return 0;
}
