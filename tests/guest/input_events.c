/* Guest side of the input test (tests/guest/input.sh), built static into
 * the reference initrd by scripts/mkguest.
 *
 *   input_events SECONDS
 *       waits (up to 10 s) for avp's virtio-input devices ("avp ..." names)
 *       to appear under /dev/input, prints "input_events: ready" with what
 *       it found, then prints every event but SYN_REPORT as
 *           input-event: <device name> type=T code=C value=V
 *       for SECONDS seconds. The host injects events and greps for them. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/input.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_DEVS 8

struct dev {
	int fd;
	char name[64];
};

static int open_avp_devices(struct dev *devs, char *summary, size_t cap)
{
	int n = 0;

	summary[0] = 0;
	for (int i = 0; i < 32 && n < MAX_DEVS; i++) {
		char path[32];
		int fd;

		snprintf(path, sizeof(path), "/dev/input/event%d", i);
		fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			continue;
		memset(devs[n].name, 0, sizeof(devs[n].name));
		if (ioctl(fd, EVIOCGNAME(sizeof(devs[n].name) - 1), devs[n].name) < 0 ||
		    strncmp(devs[n].name, "avp ", 4) != 0) {
			close(fd);
			continue;
		}
		devs[n].fd = fd;
		snprintf(summary + strlen(summary), cap - strlen(summary), "%s%s (%s)",
			 n ? ", " : "", devs[n].name, path + 11);
		n++;
	}
	return n;
}

int main(int argc, char **argv)
{
	struct dev devs[MAX_DEVS];
	struct pollfd pf[MAX_DEVS];
	char summary[512];
	int seconds = argc > 1 ? atoi(argv[1]) : 30;
	time_t end;
	int n = 0;

	for (int tries = 0; tries < 100; tries++) {
		for (int i = 0; i < n; i++)
			close(devs[i].fd);
		n = open_avp_devices(devs, summary, sizeof(summary));
		if (n >= 2)
			break;
		usleep(100 * 1000);
	}
	if (n == 0) {
		printf("input_events: no avp input devices in /dev/input\n");
		return 1;
	}
	printf("input_events: ready: %s\n", summary);
	fflush(stdout);
	for (int i = 0; i < n; i++)
		pf[i] = (struct pollfd){ .fd = devs[i].fd, .events = POLLIN };
	end = time(NULL) + seconds;
	while (time(NULL) < end) {
		if (poll(pf, (nfds_t)n, 1000) <= 0)
			continue;
		for (int i = 0; i < n; i++) {
			struct input_event ev[64];
			ssize_t got;

			if (!(pf[i].revents & POLLIN))
				continue;
			got = read(devs[i].fd, ev, sizeof(ev));
			for (ssize_t k = 0; got > 0 && k < got / (ssize_t)sizeof(ev[0]); k++) {
				if (ev[k].type == EV_SYN)
					continue;
				printf("input-event: %s type=%u code=%u value=%d\n", devs[i].name,
				       ev[k].type, ev[k].code, ev[k].value);
			}
			fflush(stdout);
		}
	}
	return 0;
}
