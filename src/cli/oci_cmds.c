/* runc's command line around the runtime commands (docs/oci.md): the
 * global options engines put before the command, `features`, and a clear
 * refusal of the commands that mean nothing for a VM. */
#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "avp_version.h"
#include "avp/runtime/cli.h"
#include "avp/runtime/lifecycle.h"
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

/* runc's `ps`: the host processes of the container, which for a VM are the
 * container process and the VMM (the guest's own are out of sight). An avp
 * VM has none of runc's: `avp state` gives its monitor's and VMM's pids. */
int oci_cli_ps(const char *root, const char *id, bool json, FILE *out, struct jc_err *e)
{
	pid_t pids[64];
	size_t n;
	int ret;

	if (!oci_is_oci_vm(root, id)) {
		struct rt_state st;

		ret = rt_state_get(root, id, &st, e);
		return ret ? ret : jc_fail(e, "", "'%s' is an avp VM, not an OCI container: "
					   "`avp state %s` gives its pids", id, id);
	}
	ret = oci_pids(root, id, pids, sizeof(pids) / sizeof(pids[0]), &n, e);
	if (ret)
		return ret;
	/* json: what go-runc's Ps reads (an array of pids, nothing else on
	 * stdout or stderr: it reads them combined). */
	if (json) {
		fputc('[', out);
		for (size_t i = 0; i < n; i++)
			fprintf(out, "%s%d", i ? "," : "", (int)pids[i]);
		fputs("]\n", out);
		return 0;
	}
	fprintf(out, "%-8s %s\n", "PID", "CMD");
	for (size_t i = 0; i < n; i++) {
		char path[64], comm[64] = "?";
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%d/comm", (int)pids[i]);
		f = fopen(path, "re");
		if (f && fgets(comm, sizeof(comm), f))
			comm[strcspn(comm, "\n")] = '\0';
		if (f)
			fclose(f);
		fprintf(out, "%-8d %s\n", (int)pids[i], comm);
	}
	return 0;
}

/* runc's owner column: the user's name, or "#UID". /etc/passwd itself
 * (fgetpwent), as getpwuid's NSS cannot load in a static avp. */
static void owner_name(uid_t uid, char *buf, size_t len)
{
	FILE *f = fopen("/etc/passwd", "re");
	struct passwd *pw;

	snprintf(buf, len, "#%u", (unsigned)uid);
	while (f && (pw = fgetpwent(f)))
		if (pw->pw_uid == uid && strlen(pw->pw_name) < len) {
			snprintf(buf, len, "%s", pw->pw_name);
			break;
		}
	if (f)
		fclose(f);
}

/* One container in runc's `list` shape (runc's list.go fields; go-runc's
 * List parses "created" as RFC 3339), from its OCI state. */
static struct json_object *list_entry(const char *root, const char *id, struct json_object *st)
{
	struct json_object *o = json_object_new_object(), *avp, *created;
	char dir[PATH_MAX], owner[32];
	struct stat sb;

	static const char *const keys[] = { "ociVersion", "id", "pid", "status", "bundle" };
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		json_object_object_add(o, keys[i],
				       json_object_get(json_object_object_get(st, keys[i])));
	json_object_object_add(o, "rootfs", json_object_new_string(""));
	/* both kinds keep it under org.avp, RFC 3339 in UTC */
	avp = json_object_object_get(st, "org.avp");
	created = json_object_object_get(avp, "created");
	created = created ? json_object_get(created) : json_object_new_string("0001-01-01T00:00:00Z");
	json_object_object_add(o, "created", created);
	json_object_object_add(o, "annotations",
			       json_object_get(json_object_object_get(st, "annotations")));
	snprintf(owner, sizeof(owner), "#?");
	if (rt_path(dir, sizeof(dir), root, id, ".") == 0 && stat(dir, &sb) == 0)
		owner_name(sb.st_uid, owner, sizeof(owner));
	json_object_object_add(o, "owner", json_object_new_string(owner));
	return o;
}

int oci_cli_list(const char *root, bool json, bool quiet, FILE *out, struct jc_err *e)
{
	struct json_object *arr = json_object_new_array();
	char **ids;
	size_t n;
	int ret = rt_list_ids_with(root, OCI_STATE_FILE, &ids, &n, e);

	if (ret) {
		json_object_put(arr);
		return ret;
	}
	for (size_t i = 0; i < n; i++) {
		struct jc_err ie = { "" };
		struct json_object *st = NULL;
		struct rt_state rs;

		if (oci_is_oci_vm(root, ids[i]))
			oci_state(root, ids[i], &st, &ie);
		else if (rt_state_get(root, ids[i], &rs, &ie) == 0)
			st = oci_state_from_rt(&rs);
		if (st) {
			json_object_array_add(arr, list_entry(root, ids[i], st));
			json_object_put(st);
		}
		free(ids[i]);
	}
	free(ids);
	if (quiet) {
		for (size_t i = 0; i < json_object_array_length(arr); i++)
			fprintf(out, "%s\n", json_object_get_string(json_object_object_get(
						    json_object_array_get_idx(arr, i), "id")));
	} else if (json) {
		fprintf(out, "%s\n", json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN));
	} else {
		fprintf(out, "%-20s %-8s %-10s %-40s %-21s %s\n", "ID", "PID", "STATUS", "BUNDLE",
			"CREATED", "OWNER");
		for (size_t i = 0; i < json_object_array_length(arr); i++) {
			struct json_object *c = json_object_array_get_idx(arr, i);
#define F(k) json_object_get_string(json_object_object_get(c, k))
			fprintf(out, "%-20s %-8s %-10s %-40s %-21s %s\n", F("id"), F("pid"),
				F("status"), F("bundle"), F("created"), F("owner"));
#undef F
		}
	}
	json_object_put(arr);
	return 0;
}
