/* libFuzzer target: the device option grammar (src/config/options.c) and
 * every device's option keys through the registry (src/vmm/registry.c),
 * on the input as one option value.
 *
 * Beyond the sanitizers: the value goes to every device option in turn,
 * into one config, twice (the second time the duplicate and single-device
 * rules answer); whatever is accepted keeps the config's invariants
 * (fuzz/support/fuzz_config.c); a refusal either carries the adder's
 * message or none (then the front end prints the option's syntax); and
 * the grammar on a table of every key type hands back only values within
 * their keys' ranges. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "avp/cli.h"
#include "avp/config/options.h"
#include "avp/vmm/registry.h"
#include "fuzz_config.h"
#include "fuzz_guest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

FUZZ_LOG_ERRORS_ONLY()

/* A table with every key type, positional first. */
struct every {
	char *lead;
	bool word;
	char *s;
	uint32_t n;
	int e;
	uint8_t mac[6];
	struct avp_chardev_cfg chr;
	char *path;
};
static const char *const words[] = { "no", "word", NULL };
static const char *const names[] = { "a", "b", "c", NULL };
static const struct avp_key keys[] = {
	{ .name = "lead", .type = AVP_KEY_STRING, .offset = offsetof(struct every, lead),
	  .flags = AVP_KEY_POSITIONAL },
	{ .name = "word", .type = AVP_KEY_BOOL, .offset = offsetof(struct every, word), .words = words },
	{ .name = "s", .type = AVP_KEY_STRING, .offset = offsetof(struct every, s) },
	{ .name = "n", .type = AVP_KEY_UINT, .offset = offsetof(struct every, n), .min = 3, .max = 4000 },
	{ .name = "e", .type = AVP_KEY_ENUM, .offset = offsetof(struct every, e), .words = names },
	{ .name = "mac", .type = AVP_KEY_MAC, .offset = offsetof(struct every, mac) },
	{ .name = "chr", .type = AVP_KEY_CHARDEV, .offset = offsetof(struct every, chr) },
	{ .name = "path", .type = AVP_KEY_PATH, .offset = offsetof(struct every, path),
	  .def = "default.img" },
	{ 0 },
};
static const struct avp_config_type every_type = {
	.name = "every", .keys = keys, .opts_size = sizeof(struct every), .max = 1,
};

static void splitter(const char *text)
{
	struct every o = { 0 };
	uint32_t given;

	if (avp_opts_parse_text(&every_type, text, &o, &given) == 0) {
		/* No item is empty, so neither is the lead. */
		FUZZ_CHECK(!(given & AVP_KEY_BIT(0)) || o.lead[0]);
		FUZZ_CHECK(!(given & AVP_KEY_BIT(2)) || o.s[0]);
		FUZZ_CHECK(!(given & AVP_KEY_BIT(3)) || (o.n >= 3 && o.n <= 4000));
		FUZZ_CHECK(o.e >= 0 && o.e <= 2);
		FUZZ_CHECK(!(given & AVP_KEY_BIT(5)) || !(o.mac[0] & 1));
		FUZZ_CHECK(o.path && (given & AVP_KEY_BIT(7) || strcmp(o.path, "default.img") == 0));
	}
	avp_opts_free(&every_type, &o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	struct avp_config cfg;
	const struct avp_device_type *t;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	splitter(text);
	avp_config_init(&cfg);
	for (int round = 0; round < 2; round++)
		for (size_t i = 0; (t = avp_device_type_at(i)); i++) {
			struct avp_config_err e;
			/* Through the type's keys and the adder, as the command
			 * line does it. */
			int ret = cli_add_device(&cfg, t->config,
					     t->config->flags & AVP_TYPE_NO_VALUE ? NULL : text, &e);

			FUZZ_CHECK(ret == 0 || ret == -EINVAL || ret == -ENOMEM);
			FUZZ_CHECK(ret != 0 || !e.text[0]);
			fuzz_check_config(&cfg);
		}
	avp_config_free(&cfg);
	free(text);
	return 0;
}
