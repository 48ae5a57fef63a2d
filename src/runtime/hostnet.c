/* Bridges, taps and vcans through `ip` (see hostnet.h). */
#include <linux/capability.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "avp/runtime/hostnet.h"

/* Runs `ip ARGS...`; its error output goes into e. */
static int run_ip(struct jc_err *e, const char *const *args)
{
	char out[256] = "";
	int pipefd[2], wstatus;
	size_t got = 0;
	ssize_t n;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0) {
		int err = errno;

		close(pipefd[0]);
		close(pipefd[1]);
		return -err;
	}
	if (pid == 0) {
		dup2(pipefd[1], STDERR_FILENO);
		dup2(pipefd[1], STDOUT_FILENO);
		execvp("ip", (char *const *)args);
		fprintf(stderr, "cannot run ip: %s (install iproute2)", strerror(errno));
		_exit(127);
	}
	close(pipefd[1]);
	while (got + 1 < sizeof(out) && (n = read(pipefd[0], out + got, sizeof(out) - 1 - got)) > 0)
		got += (size_t)n;
	out[got] = '\0';
	close(pipefd[0]);
	if (waitpid(pid, &wstatus, 0) < 0)
		return -errno;
	if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0)
		return 0;
	out[strcspn(out, "\n")] = '\0';
	if (e) {
		char cmd[160] = "";
		size_t len = 0;

		for (size_t i = 0; args[i] && len < sizeof(cmd); i++)
			len += (size_t)snprintf(cmd + len, sizeof(cmd) - len, "%s%s", i ? " " : "",
						args[i]);
		jc_fail(e, "", "`%s` failed: %s", cmd, out[0] ? out : "no message");
	}
	return -EIO;
}

/* Runs `modprobe MODULE` quietly: the kernel does not always load a link
 * type's module on demand (no usermode helper in a container, say). */
static void load_module(const char *module)
{
	pid_t pid = fork();

	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

		if (null >= 0) {
			dup2(null, STDOUT_FILENO);
			dup2(null, STDERR_FILENO);
		}
		execlp("modprobe", "modprobe", module, (char *)NULL);
		_exit(127);
	}
	if (pid > 0)
		waitpid(pid, NULL, 0);
}

int hostnet_bridge_add(const char *bridge, struct jc_err *e)
{
	const char *add[] = { "ip", "link", "add", "name", bridge, "type", "bridge",
			      "stp_state", "0", "forward_delay", "0", "mcast_snooping", "0", NULL };
	const char *up[] = { "ip", "link", "set", bridge, "up", NULL };
	int ret;

	if (access("/sys/module/bridge", F_OK))
		load_module("bridge");
	ret = run_ip(e, add);
	return ret ? ret : run_ip(e, up);
}

int hostnet_tap_add(const char *tap, const char *bridge, struct jc_err *e)
{
	/* multi_queue: the VM's net device opens a queue per pair
	 * (queues=N); one made without it would give it one pair. */
	const char *add[] = { "ip", "tuntap", "add", "dev", tap, "mode", "tap", "multi_queue", NULL };
	const char *attach[] = { "ip", "link", "set", "dev", tap, "master", bridge, "up", NULL };
	int ret;

	if (access("/dev/net/tun", F_OK))
		load_module("tun");
	ret = run_ip(e, add);

	if (ret == 0 && (ret = run_ip(e, attach)))
		hostnet_link_del(tap);
	return ret;
}

int hostnet_vcan_add(const char *name, struct jc_err *e)
{
	const char *add[] = { "ip", "link", "add", "dev", name, "type", "vcan", NULL };
	/* MTU 72 (CANFD_MTU): a vcan carries FD frames only when told. */
	const char *up[] = { "ip", "link", "set", "dev", name, "mtu", "72", "up", NULL };
	int ret;

	if (access("/sys/module/vcan", F_OK))
		load_module("vcan");
	ret = run_ip(e, add);
	if (ret == 0 && (ret = run_ip(e, up)))
		hostnet_link_del(name);
	return ret;
}

int hostnet_link_del(const char *name)
{
	const char *del[] = { "ip", "link", "del", "dev", name, NULL };

	if (!hostnet_link_exists(name))
		return 0;
	return run_ip(NULL, del);
}

bool hostnet_link_exists(const char *name)
{
	return if_nametoindex(name) != 0;
}

bool hostnet_can_admin(void)
{
	char line[256];
	bool can = false;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return true; /* cannot tell: let ip(8) say what it thinks */
	while (fgets(line, sizeof(line), f)) {
		unsigned long long eff;

		if (sscanf(line, "CapEff: %llx", &eff) == 1) {
			can = (eff >> CAP_NET_ADMIN) & 1;
			break;
		}
	}
	fclose(f);
	return can;
}
