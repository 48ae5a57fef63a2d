/* A one-shot timer for device models whose state follows a clock (the
 * PL031's alarm, the SP805's countdown): a thread of its own that calls
 * fire() once the armed delay has passed on CLOCK_MONOTONIC.
 *
 * The timer only wakes the device: the device keeps its state as a
 * function of its clock and evaluates it in fire() and on every register
 * access. A test then drives the same device with a fake clock and no
 * timer at all, calling the device's tick function where the thread would
 * have fired. */
#ifndef AVP_HW_HW_TIMER_H
#define AVP_HW_HW_TIMER_H

#include <pthread.h>
#include <stdint.h>

struct hw_timer;

struct hw_timer_ops {
	/* The armed delay passed. Called on the timer's thread without the
	 * timer's lock, so it may take the device's lock and re-arm. */
	void (*fire)(void *opaque);
	/* Runs first on the thread (the platform confines it there); nonzero
	 * ends the thread: the timer then never fires. Optional. */
	int (*thread_start)(void *opaque);
	void *opaque;	     /* fire's */
	void *thread_opaque; /* thread_start's */
	const char *name; /* the thread's name, at most 15 characters */
};

/* Starts the thread, disarmed. 0 or -errno. */
int hw_timer_create(struct hw_timer **out, const struct hw_timer_ops *ops);
/* Stops and joins the thread: no fire() after it returns. Call it without
 * any lock fire() takes. */
void hw_timer_destroy(struct hw_timer *t);
/* Fires once delay_ns from now, replacing any earlier arming. Any thread,
 * the device's lock may be held. */
void hw_timer_arm(struct hw_timer *t, uint64_t delay_ns);
void hw_timer_disarm(struct hw_timer *t);

/* The lock and timer a clocked device model (PL031, PL061, SP805,
 * watchdog, CMOS RTC) sets up and tears down together. ops NULL means no
 * timer: the device runs on a test's fake clock, or has nothing to time.
 * 0 or -errno; a failure leaves nothing to undo. */
int hw_timer_dev_init(pthread_mutex_t *lock, struct hw_timer **timer,
		      const struct hw_timer_ops *ops);
/* Stops the timer (NULL is fine), then destroys the lock. */
void hw_timer_dev_fini(pthread_mutex_t *lock, struct hw_timer *timer);

#endif
