/* Guest side of tests/realguest/gpio-i2c.sh and the conformance rows
 * AVP-GPIO-1 / AVP-I2C-1: a small static tool over the GPIO character
 * device (uapi v2) and i2c-dev, so the guest needs no libgpiod or
 * i2c-tools. Every result is one line on stdout; exit 0 on success.
 *
 *   gpio_i2c chip                         the virtio gpiochip and its line names
 *   gpio_i2c get CHIP LINE                read an input
 *   gpio_i2c set CHIP LINE V [V...]       drive an output through levels
 *   gpio_i2c edge CHIP LINE SECONDS       wait for a rising edge
 *   gpio_i2c i2c-find                     the virtio I2C adapter's /dev/i2c-N
 *   gpio_i2c i2c-write DEV ADDR REG VAL   one write message [REG, VAL]
 *   gpio_i2c i2c-read DEV ADDR REG        write [REG], read 1 byte, one transfer */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/gpio.h>
#include <linux/i2c-dev.h>
#include <linux/i2c.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

static void pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static int chip(void)
{
	char path[64];
	int found = 0;

	for (int n = 0; n < 32; n++) {
		struct gpiochip_info info;
		int fd;

		snprintf(path, sizeof(path), "/dev/gpiochip%d", n);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (ioctl(fd, GPIO_GET_CHIPINFO_IOCTL, &info) == 0) {
			printf("chip %s label=%s name=%s lines=%u\n", path, info.label, info.name,
			       info.lines);
			/* gpio-virtio labels its chip with the virtio device's name */
			if (!found && strncmp(info.label, "virtio", 6) == 0) {
				found = 1;
				printf("virtio-chip %s lines=%u\n", path, info.lines);
				for (unsigned int i = 0; i < info.lines; i++) {
					struct gpio_v2_line_info li = { .offset = i };

					if (ioctl(fd, GPIO_V2_GET_LINEINFO_IOCTL, &li) == 0)
						printf("line %u name=%s\n", i, li.name);
				}
			}
		}
		close(fd);
	}
	return found ? 0 : 1;
}

static int request(const char *path, unsigned int line, unsigned long long flags, int value)
{
	struct gpio_v2_line_request req;
	int fd = open(path, O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		printf("open %s: %s\n", path, strerror(errno));
		return -1;
	}
	memset(&req, 0, sizeof(req));
	req.offsets[0] = line;
	req.num_lines = 1;
	strcpy(req.consumer, "avp-test");
	req.config.flags = flags;
	if (value >= 0) {
		req.config.num_attrs = 1;
		req.config.attrs[0].attr.id = GPIO_V2_LINE_ATTR_ID_OUTPUT_VALUES;
		req.config.attrs[0].attr.values = (unsigned long long)value;
		req.config.attrs[0].mask = 1;
	}
	if (ioctl(fd, GPIO_V2_GET_LINE_IOCTL, &req) < 0) {
		printf("line request %s:%u: %s\n", path, line, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return req.fd;
}

static int get(const char *path, unsigned int line)
{
	struct gpio_v2_line_values v = { .mask = 1 };
	int fd = request(path, line, GPIO_V2_LINE_FLAG_INPUT, -1);

	if (fd < 0)
		return 1;
	if (ioctl(fd, GPIO_V2_LINE_GET_VALUES_IOCTL, &v) < 0) {
		printf("get %u: %s\n", line, strerror(errno));
		return 1;
	}
	printf("value %u %llu\n", line, v.bits & 1);
	close(fd);
	return 0;
}

static int set(const char *path, unsigned int line, char **vals, int n)
{
	int fd = request(path, line, GPIO_V2_LINE_FLAG_OUTPUT, atoi(vals[0]));

	if (fd < 0)
		return 1;
	for (int i = 1; i < n; i++) {
		struct gpio_v2_line_values v = { .bits = (unsigned long long)atoi(vals[i]), .mask = 1 };

		pause_ms(50);
		if (ioctl(fd, GPIO_V2_LINE_SET_VALUES_IOCTL, &v) < 0) {
			printf("set %u: %s\n", line, strerror(errno));
			return 1;
		}
	}
	pause_ms(100);
	close(fd);
	printf("set %u done\n", line);
	return 0;
}

static int edge(const char *path, unsigned int line, int seconds)
{
	int fd = request(path, line,
			 GPIO_V2_LINE_FLAG_INPUT | GPIO_V2_LINE_FLAG_EDGE_RISING |
				 GPIO_V2_LINE_FLAG_EDGE_FALLING,
			 -1);
	struct pollfd p;

	if (fd < 0)
		return 1;
	printf("edge-ready %u\n", line);
	fflush(stdout);
	p = (struct pollfd){ .fd = fd, .events = POLLIN };
	for (;;) {
		struct gpio_v2_line_event ev;
		int r = poll(&p, 1, seconds * 1000);

		if (r <= 0) {
			printf("edge %u timeout\n", line);
			return 1;
		}
		if (read(fd, &ev, sizeof(ev)) != sizeof(ev)) {
			printf("edge %u read: %s\n", line, strerror(errno));
			return 1;
		}
		printf("edge %u %s\n", ev.offset,
		       ev.id == GPIO_V2_LINE_EVENT_RISING_EDGE ? "rising" : "falling");
		if (ev.id == GPIO_V2_LINE_EVENT_RISING_EDGE)
			return 0;
	}
}

static int i2c_find(void)
{
	DIR *d = opendir("/sys/bus/i2c/devices");
	struct dirent *e;

	while (d && (e = readdir(d))) {
		char path[300], name[128] = "";
		FILE *f;

		if (strncmp(e->d_name, "i2c-", 4))
			continue;
		snprintf(path, sizeof(path), "/sys/bus/i2c/devices/%s/name", e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (!fgets(name, sizeof(name), f))
			name[0] = '\0';
		fclose(f);
		if (strstr(name, "virtio")) {
			printf("/dev/%s\n", e->d_name);
			closedir(d);
			return 0;
		}
	}
	if (d)
		closedir(d);
	return 1;
}

static int i2c_xfer(const char *dev, int addr, unsigned char *w, int wn, unsigned char *r, int rn)
{
	struct i2c_msg m[2];
	struct i2c_rdwr_ioctl_data x = { .msgs = m, .nmsgs = 0 };
	int fd = open(dev, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	m[x.nmsgs++] = (struct i2c_msg){ .addr = (unsigned short)addr, .flags = 0,
					 .len = (unsigned short)wn, .buf = w };
	if (rn)
		m[x.nmsgs++] = (struct i2c_msg){ .addr = (unsigned short)addr, .flags = I2C_M_RD,
						 .len = (unsigned short)rn, .buf = r };
	/* i2c-dev returns how many messages went through: fewer than all
	 * (i2c-virtio counts the ones before the first VIRTIO_I2C_MSG_ERR,
	 * often 0) is a failed transfer too. */
	int done = ioctl(fd, I2C_RDWR, &x), e = errno;

	close(fd);
	if (done < 0)
		return -e;
	return done == (int)x.nmsgs ? 0 : -EIO;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "chip"))
		return chip();
	if (argc == 4 && !strcmp(argv[1], "get"))
		return get(argv[2], (unsigned int)atoi(argv[3]));
	if (argc >= 5 && !strcmp(argv[1], "set"))
		return set(argv[2], (unsigned int)atoi(argv[3]), argv + 4, argc - 4);
	if (argc == 5 && !strcmp(argv[1], "edge"))
		return edge(argv[2], (unsigned int)atoi(argv[3]), atoi(argv[4]));
	if (argc == 2 && !strcmp(argv[1], "i2c-find"))
		return i2c_find();
	if (argc == 6 && !strcmp(argv[1], "i2c-write")) {
		int addr = (int)strtol(argv[3], NULL, 0);
		unsigned char w[2] = { (unsigned char)strtol(argv[4], NULL, 0),
				       (unsigned char)strtol(argv[5], NULL, 0) };
		int ret = i2c_xfer(argv[2], addr, w, 2, NULL, 0);

		if (ret)
			printf("i2c-write 0x%02x failed: %s\n", addr, strerror(-ret));
		else
			printf("i2c-write 0x%02x ok\n", addr);
		return ret ? 1 : 0;
	}
	if (argc == 5 && !strcmp(argv[1], "i2c-read")) {
		int addr = (int)strtol(argv[3], NULL, 0);
		unsigned char reg = (unsigned char)strtol(argv[4], NULL, 0), val = 0;
		int ret = i2c_xfer(argv[2], addr, &reg, 1, &val, 1);

		if (ret)
			printf("i2c-read 0x%02x failed: %s\n", addr, strerror(-ret));
		else
			printf("i2c-read 0x%02x 0x%02x = 0x%02x\n", addr, reg, val);
		return ret ? 1 : 0;
	}
	fprintf(stderr, "usage: see the comment at the top of gpio_i2c.c\n");
	return 2;
}
