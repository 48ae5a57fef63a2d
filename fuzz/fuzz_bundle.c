/* libFuzzer target: a bundle's config.json (src/runtime/bundle.c over
 * src/runtime/jsoncheck.c), the bytes as the file's text, in a bundle
 * directory made once per process that holds a kernel, an initrd, two
 * disk images and a subdirectory; every other path the text names does
 * not exist.
 *
 * The text goes through bundle_parse (an exactly sized copy, no NUL after
 * it) and, when accepted, bundle_check_host, as bundle_load does after
 * reading the file; a path to a missing file (or a directory) must be an
 * error naming it, never anything worse.
 *
 * Beyond the sanitizers: a rejection leaves one message starting with
 * "config.json" and an empty bundle; an accepted text holds no NUL byte;
 * an accepted bundle stays within the
 * documented limits (vCPUs, memory, disks, nets, inputs, command line),
 * its paths are absolute and its disks and taps distinct. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "avp/log.h"
#include "avp/config/options.h"
#include "avp/runtime/bundle.h"
#include "fuzz_config.h"
#include "fuzz_guest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static char dir[64];
static const char *const files[] = { "vmlinuz", "initrd.img", "disk.img", "ro.img" };

static void cleanup(void)
{
	char p[128];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
		unlink(p);
	}
	snprintf(p, sizeof(p), "%s/sub", dir);
	rmdir(p);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char p[128];

	(void)argc;
	(void)argv;
	avp_log_set_level(AVP_LOG_ERROR);
	fuzz_tmpdir(dir, sizeof(dir), "bundle");
	atexit(cleanup);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		int fd;

		snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
		fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0 || write(fd, "x", 1) != 1) {
			perror(p);
			exit(1);
		}
		close(fd);
	}
	snprintf(p, sizeof(p), "%s/sub", dir);
	mkdir(p, 0755);
	return 0;
}

static void check_bundle(const struct avp_bundle *b)
{
	const struct avp_config *cfg = &b->cfg;

	FUZZ_CHECK(b->dir && strcmp(b->dir, dir) == 0);
	FUZZ_CHECK(cfg->kernel && cfg->kernel[0] == '/');
	FUZZ_CHECK(!cfg->initrd || cfg->initrd[0] == '/');
	FUZZ_CHECK(cfg->cpus >= 1 && cfg->cpus <= AVP_MAX_CPUS);
	FUZZ_CHECK(cfg->memory_mib >= AVP_MIN_MEMORY_MIB && cfg->memory_mib <= AVP_MAX_MEMORY_MIB);
	fuzz_check_config(cfg);
	FUZZ_CHECK(!cfg->cmdline || strlen(cfg->cmdline) <= AVP_MAX_CMDLINE);
	FUZZ_CHECK(!b->critical || cfg->affinity_set);
	FUZZ_CHECK(b->backoff_ms <= 60000 && b->shutdown_timeout_s <= 3600);
	/* Every path a bundle gives is absolute by now (joined onto its
	 * directory). */
	for (unsigned int i = 0; i < cfg->ndevices; i++) {
		const struct avp_device_entry *d = &cfg->devices[i];

		for (const struct avp_key *k = d->type->keys; k && k->name; k++) {
			const char *path;

			if (k->type != AVP_KEY_PATH)
				continue;
			path = *(char *const *)((const char *)d->opts + k->offset);
			FUZZ_CHECK(!path || path[0] == '/');
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size ? size : 1);
	struct avp_bundle b;
	struct jc_err e = { "" };
	int ret;

	if (!text)
		return 0;
	memcpy(text, data, size);
	ret = bundle_parse(text, size, dir, &b, &e);
	if (ret) {
		FUZZ_CHECK(ret == -EINVAL || ret == -ENOMEM);
		FUZZ_CHECK(ret == -ENOMEM || strncmp(e.text, BUNDLE_CONFIG, strlen(BUNDLE_CONFIG)) == 0);
		FUZZ_CHECK(!b.dir && !b.cfg.kernel && b.cfg.ndevices == 0);
	} else {
		/* NUL is neither JSON nor whitespace, and strings refuse it. */
		FUZZ_CHECK(!memchr(data, 0, size));
		check_bundle(&b);
		ret = bundle_check_host(&b, &e);
		FUZZ_CHECK(ret == 0 || (ret == -EINVAL && e.text[0]));
		bundle_free(&b);
	}
	free(text);
	return 0;
}
