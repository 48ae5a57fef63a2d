/* Diagnostics. Library code reports through these and returns -errno;
 * only the CLI decides whether an error ends the process. */
#ifndef AVP_LOG_H
#define AVP_LOG_H

#include <stdarg.h>
#include <stdint.h>

enum avp_log_level { AVP_LOG_ERROR, AVP_LOG_WARN, AVP_LOG_INFO, AVP_LOG_DEBUG };

void avp_log_set_level(enum avp_log_level level);
enum avp_log_level avp_log_get_level(void); /* tests put back what they changed */
/* Writes one line to stderr, never waiting: while stderr cannot take a
 * line at once (a full pipe, a stopped terminal) lines are dropped, and
 * the next one written says how many. */
/* A line of avp's own at no level ("avp: TEXT": the exit summary), with
 * avp_log's promise never to wait. */
void avp_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void avp_log(enum avp_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define avp_err(...) avp_log(AVP_LOG_ERROR, __VA_ARGS__)
#define avp_warn(...) avp_log(AVP_LOG_WARN, __VA_ARGS__)
#define avp_info(...) avp_log(AVP_LOG_INFO, __VA_ARGS__)
#define avp_debug(...) avp_log(AVP_LOG_DEBUG, __VA_ARGS__)

/* Warnings a guest can trigger again and again (a driver breaking its
 * rings, a stream overrunning its credit) must not fill the host's disk or
 * drown the messages that matter. Per source (a device: any pointer that
 * stays the same for it), the first AVP_GUEST_WARN_BURST are printed, then
 * at most one a minute, which says how many were not. A minute without
 * any from that source starts a new burst. Every one is counted
 * (avp_guest_warn_counts; the control socket's status shows the counts). */
#define AVP_GUEST_WARN_BURST 5
#define AVP_GUEST_WARN_INTERVAL_MS 60000

void avp_guest_warn(const void *source, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

struct avp_guest_warn_counts {
	uint64_t total;	    /* guest-triggered warnings so far */
	uint64_t not_shown; /* of those, held back by the rate limit */
};
void avp_guest_warn_counts(struct avp_guest_warn_counts *out);

/* The rate limit itself, for one source, on the caller's clock. */
struct avp_ratelimit {
	unsigned int shown; /* of the current burst */
	uint64_t last_ms;   /* the latest message */
	uint64_t next_ms;   /* after the burst: earliest next line */
	uint64_t held;	    /* not shown since the last line */
};

enum avp_ratelimit_verdict {
	AVP_RL_SHOW,	  /* within the burst */
	AVP_RL_SHOW_LAST, /* the burst's last: say that a limit follows */
	AVP_RL_SHOW_HELD, /* the line of the minute; *held were not shown */
	AVP_RL_HOLD,	  /* counted only */
};

/* Decides for one message at now_ms (monotonic); *held is set for
 * AVP_RL_SHOW_HELD. rl starts zeroed. */
enum avp_ratelimit_verdict avp_ratelimit(struct avp_ratelimit *rl, uint64_t now_ms,
					 uint64_t *held);

/* Tests: the clock avp_guest_warn uses (NULL: CLOCK_MONOTONIC), and a
 * fresh start (no sources, zero counts). */
void avp_guest_warn_set_clock(uint64_t (*now_ms)(void));
void avp_guest_warn_reset(void);

#endif
