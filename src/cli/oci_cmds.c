/* runc's command line around the runtime commands (docs/oci.md): the
 * global options engines put before the command, `features`, and a clear
 * refusal of the commands that mean nothing for a VM. */
#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "avp_version.h"
#include "avp/runtime/cli.h"
#include "avp/runtime/oci.h"
#include "avp/runtime/oci_cli.h"
#include "avp/runtime/state.h"

/* runc's global options: those with a value, then the flags. */
static const char *const value_globals[] = { "--root", "--log", "--log-format", "--criu",
					     "--rootless", NULL };
static const char *const flag_globals[] = { "--systemd-cgroup", "--debug", NULL };
/* runc commands a VM has no use for (docs/oci.md says why). */
static const struct {
	const char *name, *why;
} refused[] = {
	{ "exec", "a VM runs one guest; avp cannot start a process inside it" },
	{ "ps", "the processes run inside the guest, out of the host's sight" },
	{ "pause", "not implemented: a paused VM would keep its memory" },
	{ "resume", "not implemented (see pause)" },
	{ "update", "a VM's CPUs and memory are fixed when it is created" },
	{ "events", "not implemented: ask `avp state`" },
	{ "checkpoint", "not implemented" },
	{ "restore", "not implemented" },
};

/* "--name" or "--name=value" */
static const char *match(const char *arg, const char *name)
{
	size_t n = strlen(name);

	if (strncmp(arg, name, n) != 0)
		return NULL;
	return arg[n] == '\0' ? "" : arg[n] == '=' ? arg + n + 1 : NULL;
}

static int which_global(const char *arg, const char *const *names, const char **value)
{
	for (int i = 0; names[i]; i++)
		if ((*value = match(arg, names[i])))
			return i;
	return -1;
}

bool oci_cli_handles(const char *arg)
{
	const char *v;

	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		if (strcmp(arg, refused[i].name) == 0)
			return true;
	return strcmp(arg, "features") == 0 || which_global(arg, value_globals, &v) >= 0 ||
	       which_global(arg, flag_globals, &v) >= 0;
}

static int absolute(const char *path, char *buf, size_t len)
{
	char cwd[PATH_MAX];

	if (path[0] == '/')
		return snprintf(buf, len, "%s", path) < (int)len ? 0 : -ENAMETOOLONG;
	if (!getcwd(cwd, sizeof(cwd)))
		return -errno;
	return snprintf(buf, len, "%s/%s", cwd, path) < (int)len ? 0 : -ENAMETOOLONG;
}

int oci_cli_globals(int argc, char **argv, struct oci_globals *g, FILE *err)
{
	int i;

	memset(g, 0, sizeof(*g));
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *arg = argv[i], *v;
		int k = which_global(arg, value_globals, &v);

		if (strcmp(arg, "--version") == 0 || strcmp(arg, "--help") == 0 ||
		    strcmp(arg, "-h") == 0)
			break;
		if (k < 0 && which_global(arg, flag_globals, &v) >= 0) {
			if (*v) {
				fprintf(err, "avp: %s takes no value\n", arg);
				return -EINVAL;
			}
			g->runc = true;
			continue;
		}
		if (k < 0) {
			fprintf(err, "avp: unknown global option '%s' (runc's --root, --log, "
				"--log-format, --systemd-cgroup, --debug; docs/oci.md)\n", arg);
			return -EINVAL;
		}
		if (!*v) {
			if (i + 1 >= argc) {
				fprintf(err, "avp: option '%s' needs a value\n", arg);
				return -EINVAL;
			}
			v = argv[++i];
		}
		g->runc = true;
		if (k == 0) {
			g->root = v;
		} else if (k == 1) {
			if (!*v || absolute(v, g->log_path, sizeof(g->log_path))) {
				fprintf(err, "avp: --log '%s': not a usable path\n", v);
				return -EINVAL;
			}
			g->log.path = g->log_path;
		} else if (k == 2) {
			if (strcmp(v, "json") && strcmp(v, "text")) {
				fprintf(err, "avp: --log-format: expected text or json, got '%s'\n", v);
				return -EINVAL;
			}
			g->log.json = strcmp(v, "json") == 0;
		}
		/* --criu and --rootless: accepted, nothing to do for a VM. */
	}
	return i;
}

int oci_cli_other(const char *cmd, int npos, FILE *out, FILE *err)
{
	if (strcmp(cmd, "features") == 0) {
		struct json_object *f;

		if (npos) {
			fprintf(err, "avp features: expected no arguments\n");
			return 1;
		}
		f = oci_features();
		fprintf(out, "%s\n", json_object_to_json_string_ext(f, RT_JSON_PRETTY));
		json_object_put(f);
		return 0;
	}
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		if (strcmp(cmd, refused[i].name) == 0) {
			fprintf(err, "avp %s: not supported for a VM: %s (docs/oci.md)\n", cmd,
				refused[i].why);
			return 1;
		}
	return -1;
}

void oci_cli_version(FILE *out)
{
	fprintf(out, "avp version %s\nspec: %s\n", AVP_VERSION, OCI_SPEC_VERSION);
}
