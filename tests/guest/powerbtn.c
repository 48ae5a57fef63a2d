/* A minimal power-key handler for the reference guest, built static into
 * the initrd by scripts/mkguest: what acpid or systemd-logind do on a real
 * system. Linux's ACPI button driver turns the platform's power button
 * (avp: a GED notifying a PNP0C0C device) into a KEY_POWER input event;
 * nothing in the kernel acts on it.
 *
 *   powerbtn [SECONDS]
 *       waits (up to 10 s) for an input device that can send KEY_POWER,
 *       then, on a press, prints "powerbtn: power button pressed" and
 *       powers the guest off. Gives up after SECONDS (default: never). */
#include <fcntl.h>
#include <linux/input.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <string.h>
#include <sys/reboot.h>
#include <time.h>
#include <unistd.h>

#define LONG_BITS (8 * sizeof(long))

static int find_buttons(struct pollfd *pf, int max)
{
	int n = 0;

	for (int i = 0; i < 32 && n < max; i++) {
		unsigned long keys[KEY_CNT / LONG_BITS + 1];
		char path[32], name[64] = "";
		int fd;

		snprintf(path, sizeof(path), "/dev/input/event%d", i);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		memset(keys, 0, sizeof(keys));
		if (ioctl(fd, EVIOCGBIT(EV_KEY, sizeof(keys)), keys) < 0 ||
		    !((keys[KEY_POWER / LONG_BITS] >> (KEY_POWER % LONG_BITS)) & 1)) {
			close(fd);
			continue;
		}
		ioctl(fd, EVIOCGNAME(sizeof(name) - 1), name);
		printf("powerbtn: watching %s (%s)\n", name, path);
		pf[n++] = (struct pollfd){ .fd = fd, .events = POLLIN };
	}
	return n;
}

int main(int argc, char **argv)
{
	struct pollfd pf[8];
	int seconds = argc > 1 ? atoi(argv[1]) : 0;
	time_t end = seconds > 0 ? time(NULL) + seconds : 0;
	int n = 0;

	for (int tries = 0; tries < 100 && n == 0; tries++) {
		n = find_buttons(pf, 8);
		if (!n)
			usleep(100 * 1000);
	}
	if (n == 0) {
		printf("powerbtn: no input device sends KEY_POWER (button.ko, evdev.ko loaded?)\n");
		return 1;
	}
	fflush(stdout);
	while (!end || time(NULL) < end) {
		if (poll(pf, (nfds_t)n, 1000) <= 0)
			continue;
		for (int i = 0; i < n; i++) {
			struct input_event ev[16];
			ssize_t got;

			if (!(pf[i].revents & POLLIN))
				continue;
			got = read(pf[i].fd, ev, sizeof(ev));
			for (ssize_t k = 0; got > 0 && k < got / (ssize_t)sizeof(ev[0]); k++) {
				if (ev[k].type != EV_KEY || ev[k].code != KEY_POWER || ev[k].value != 1)
					continue;
				printf("powerbtn: power button pressed, powering off\n");
				fflush(stdout);
				sync();
				reboot(RB_POWER_OFF);
				return 1; /* only without the privilege */
			}
		}
	}
	return 1;
}
