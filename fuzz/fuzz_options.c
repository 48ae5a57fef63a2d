/* libFuzzer target: the device option grammar (src/config/options.c) and
 * every device's option keys through the registry (src/vmm/registry.c),
 * on the input as one option value.
 *
 * Beyond the sanitizers: the value goes to every device option in turn,
 * into one config, twice (the second time the duplicate and single-device
 * rules answer); whatever is accepted keeps the config's invariants
 * (fuzz/support/fuzz_config.c); a refusal either carries the adder's
 * message or none (then the front end prints the option's syntax); and
 * the splitter on a table of every key type hands back only values
 * within their keys' ranges. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "avp/config/options.h"
#include "avp/log.h"
#include "avp/vmm/registry.h"
#include "fuzz_config.h"
#include "fuzz_guest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	avp_log_set_level(AVP_LOG_ERROR);
	return 0;
}

static const struct avp_opt_key keys[] = {
	{ "lead", AVP_OPT_LEAD, 0, 0 },
	{ "word", AVP_OPT_WORD, 0, 0 },
	{ "s", AVP_OPT_STR, 0, 0 },
	{ "n", AVP_OPT_U32, 3, 4000 },
	{ NULL, 0, 0, 0 },
};

static void splitter(const char *text)
{
	struct avp_opts o;

	if (avp_opts_parse(&o, text, keys) == 0) {
		/* No item is empty, so neither is the lead. */
		FUZZ_CHECK(!o.v[0].set || o.v[0].str[0]);
		FUZZ_CHECK(!o.v[2].set || o.v[2].str[0]);
		FUZZ_CHECK(!o.v[3].set || (o.v[3].u32 >= 3 && o.v[3].u32 <= 4000));
	}
	avp_opts_free(&o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	struct avp_config cfg;
	size_t ntypes;
	const struct avp_device_type *types = avp_device_types(&ntypes);

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	splitter(text);
	avp_config_init(&cfg);
	for (int round = 0; round < 2; round++)
		for (size_t i = 0; i < ntypes; i++) {
			struct avp_config_err e = { 0 };
			int ret = types[i].add_option(&cfg, types[i].option_syntax ? text : NULL, &e);

			FUZZ_CHECK(ret == 0 || ret == -EINVAL || ret == -ENOMEM);
			FUZZ_CHECK(ret != 0 || !e.text[0]);
			fuzz_check_config(&cfg);
		}
	avp_config_free(&cfg);
	free(text);
	return 0;
}
