/* Building a struct avp_config in a test: a device by its option text,
 * through the same key table and adder as the command line. */
#ifndef AVP_TEST_CONFIG_HELPER_H
#define AVP_TEST_CONFIG_HELPER_H

#include "avp/config/options.h"

/* Adds a device of type t from text (NULL: no value) to cfg; fails the
 * test when it is refused. Returns the device's options. */
void *test_add_device(struct avp_config *cfg, const struct avp_config_type *t, const char *text);

/* The same, but returns what the parser or the adder said: 0, or -EINVAL
 * with e->text (empty: the text breaks the option's grammar). */
int test_try_device(struct avp_config *cfg, const struct avp_config_type *t, const char *text,
		    struct avp_config_err *e);

#endif
