#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "avp/log.h"

/* The one piece of process-wide state: a log threshold is a property of the
 * process's stderr, not of any VM. */
static enum avp_log_level log_threshold = AVP_LOG_WARN;
/* Lines a standard error nobody read made us drop, not yet reported. */
static atomic_ulong log_dropped;

void avp_log_set_level(enum avp_log_level level)
{
	log_threshold = level;
}

enum avp_log_level avp_log_get_level(void)
{
	return log_threshold;
}

/* One line "avp: [KIND: ]TEXT" to standard error, never waiting. */
static void emit(const char *kind, const char *fmt, va_list ap)
{
	struct pollfd pfd = { .fd = STDERR_FILENO, .events = POLLOUT };
	char line[1024], head[32], out[1200];
	unsigned long dropped;
	ssize_t r;
	int n;

	/* A standard error nobody reads (a full pipe, a stopped terminal)
	 * must not stop the thread that logs: a vCPU holding a device's
	 * lock, or the main thread ending avp on SIGTERM. Its lines are
	 * dropped, and the next line that gets through says how many. */
	if (poll(&pfd, 1, 0) == 0) {
		atomic_fetch_add(&log_dropped, 1);
		return;
	}
	vsnprintf(line, sizeof(line), fmt, ap);
	snprintf(head, sizeof(head), "%s%s", kind ? kind : "", kind ? ": " : "");
	/* One write per line so lines from different threads do not mix;
	 * \r\n because the terminal may be in raw mode while a guest runs. */
	dropped = atomic_exchange(&log_dropped, 0);
	if (dropped)
		n = snprintf(out, sizeof(out),
			     "avp: warning: %lu log line(s) dropped: standard error was not "
			     "being read\r\navp: %s%s\r\n",
			     dropped, head, line);
	else
		n = snprintf(out, sizeof(out), "avp: %s%s\r\n", head, line);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(out))
		n = sizeof(out) - 1;
	r = write(STDERR_FILENO, out, (size_t)n);
	(void)r; /* nowhere left to report a failed log write */
}

void avp_log(enum avp_log_level level, const char *fmt, ...)
{
	static const char *const prefix[] = {
		[AVP_LOG_ERROR] = "error",
		[AVP_LOG_WARN] = "warning",
		[AVP_LOG_INFO] = "info",
		[AVP_LOG_DEBUG] = "debug",
	};
	va_list ap;

	if (level > log_threshold)
		return;
	va_start(ap, fmt);
	emit(prefix[level], fmt, ap);
	va_end(ap);
}

void avp_say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit(NULL, fmt, ap);
	va_end(ap);
}

/* ---- guest-triggered warnings ---- */

enum avp_ratelimit_verdict avp_ratelimit(struct avp_ratelimit *rl, uint64_t now_ms,
					 uint64_t *held)
{
	/* A quiet minute after the burst: the guest stopped, so the next
	 * message is news again. Held ones are still reported first. */
	if (rl->shown >= AVP_GUEST_WARN_BURST && !rl->held &&
	    now_ms - rl->last_ms >= AVP_GUEST_WARN_INTERVAL_MS)
		rl->shown = 0;
	rl->last_ms = now_ms;
	if (rl->shown < AVP_GUEST_WARN_BURST) {
		if (++rl->shown < AVP_GUEST_WARN_BURST)
			return AVP_RL_SHOW;
		rl->next_ms = now_ms + AVP_GUEST_WARN_INTERVAL_MS;
		return AVP_RL_SHOW_LAST;
	}
	if (now_ms >= rl->next_ms) {
		*held = rl->held;
		rl->held = 0;
		rl->next_ms = now_ms + AVP_GUEST_WARN_INTERVAL_MS;
		return AVP_RL_SHOW_HELD;
	}
	rl->held++;
	return AVP_RL_HOLD;
}

/* Sources are few (a VM has at most a few dozen devices); past the table
 * they share its last slot, which only makes their limit stricter. */
#define GUEST_WARN_SOURCES 64

static struct {
	pthread_mutex_t lock;
	struct {
		const void *source;
		struct avp_ratelimit rl;
	} slot[GUEST_WARN_SOURCES];
	unsigned int nslots;
	struct avp_guest_warn_counts counts;
	uint64_t (*now_ms)(void);
} guest_warn = { .lock = PTHREAD_MUTEX_INITIALIZER };

static uint64_t monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static struct avp_ratelimit *source_limit(const void *source)
{
	unsigned int i;

	for (i = 0; i < guest_warn.nslots; i++)
		if (guest_warn.slot[i].source == source)
			return &guest_warn.slot[i].rl;
	if (guest_warn.nslots == GUEST_WARN_SOURCES)
		return &guest_warn.slot[GUEST_WARN_SOURCES - 1].rl;
	guest_warn.slot[i].source = source;
	guest_warn.nslots++;
	return &guest_warn.slot[i].rl;
}

void avp_guest_warn(const void *source, const char *fmt, ...)
{
	enum avp_ratelimit_verdict v;
	uint64_t now, held = 0;
	char msg[768];
	va_list ap;

	pthread_mutex_lock(&guest_warn.lock);
	now = guest_warn.now_ms ? guest_warn.now_ms() : monotonic_ms();
	v = avp_ratelimit(source_limit(source), now, &held);
	guest_warn.counts.total++;
	if (v == AVP_RL_HOLD)
		guest_warn.counts.not_shown++;
	pthread_mutex_unlock(&guest_warn.lock);
	if (v == AVP_RL_HOLD || log_threshold < AVP_LOG_WARN)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (v == AVP_RL_SHOW_LAST)
		avp_warn("%s (more from this device: at most one line a minute)", msg);
	else if (v == AVP_RL_SHOW_HELD && held)
		avp_warn("%s (and %llu more from this device not shown)", msg,
			 (unsigned long long)held);
	else
		avp_warn("%s", msg);
}

void avp_guest_warn_counts(struct avp_guest_warn_counts *out)
{
	pthread_mutex_lock(&guest_warn.lock);
	*out = guest_warn.counts;
	pthread_mutex_unlock(&guest_warn.lock);
}

void avp_guest_warn_set_clock(uint64_t (*now_ms)(void))
{
	pthread_mutex_lock(&guest_warn.lock);
	guest_warn.now_ms = now_ms;
	pthread_mutex_unlock(&guest_warn.lock);
}

void avp_guest_warn_reset(void)
{
	pthread_mutex_lock(&guest_warn.lock);
	memset(guest_warn.slot, 0, sizeof(guest_warn.slot));
	guest_warn.nslots = 0;
	guest_warn.counts = (struct avp_guest_warn_counts){ 0 };
	pthread_mutex_unlock(&guest_warn.lock);
}
