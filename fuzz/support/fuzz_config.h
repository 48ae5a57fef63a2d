/* Invariants of a parsed struct avp_config, shared by the front-end
 * fuzzers (fuzz_cli, fuzz_bundle, fuzz_options): every limit holds, every
 * device is of a registered type with values its key table allows, and
 * the device rules (no disk or tap twice, display sizes) held. Traps
 * (FUZZ_CHECK) when one breaks. */
#ifndef AVP_FUZZ_CONFIG_H
#define AVP_FUZZ_CONFIG_H

#include "avp/config.h"

void fuzz_check_config(const struct avp_config *cfg);

#endif
