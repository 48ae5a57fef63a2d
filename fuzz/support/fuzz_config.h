/* Invariants of a parsed struct avp_config, shared by the front-end
 * fuzzers (fuzz_cli, fuzz_bundle, fuzz_options): every limit holds and the
 * declaration order (devices[]) lists exactly the devices the typed arrays
 * hold, each once. Traps (FUZZ_CHECK) when one breaks. */
#ifndef AVP_FUZZ_CONFIG_H
#define AVP_FUZZ_CONFIG_H

#include "avp/config.h"

void fuzz_check_config(const struct avp_config *cfg);

#endif
