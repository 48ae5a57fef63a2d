/* The device models' one-shot timer (include/avp/hw/hw_timer.h). Time is
 * CLOCK_MONOTONIC: a host wall-clock step must neither fire nor postpone
 * a device's timer. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "avp/hw/hw_timer.h"

struct hw_timer {
	pthread_mutex_t lock;
	pthread_cond_t cond; /* CLOCK_MONOTONIC */
	pthread_t thread;
	struct hw_timer_ops ops;
	bool armed, quit;
	uint64_t deadline; /* monotonic ns, while armed */
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void *timer_main(void *arg)
{
	struct hw_timer *t = arg;

	/* Named by the thread itself (prctl), not by its creator: naming
	 * another thread goes through /proc/self/task/TID/comm with the TID of
	 * the caller's PID namespace, which is not /proc's in the jailed VM
	 * process (PID 1 of its own namespace under the host's /proc), so the
	 * name was lost there. Before thread_start: its seccomp filter has no
	 * prctl. Naming is a convenience, its failure not fatal. */
	if (t->ops.name)
		pthread_setname_np(pthread_self(), t->ops.name);
	if (t->ops.thread_start && t->ops.thread_start(t->ops.thread_opaque))
		return NULL;
	pthread_mutex_lock(&t->lock);
	while (!t->quit) {
		struct timespec ts;

		if (!t->armed) {
			pthread_cond_wait(&t->cond, &t->lock);
			continue;
		}
		if (mono_ns() >= t->deadline) {
			t->armed = false;
			pthread_mutex_unlock(&t->lock);
			if (t->ops.fire)
				t->ops.fire(t->ops.opaque);
			pthread_mutex_lock(&t->lock);
			continue;
		}
		ts.tv_sec = (time_t)(t->deadline / 1000000000ull);
		ts.tv_nsec = (long)(t->deadline % 1000000000ull);
		pthread_cond_timedwait(&t->cond, &t->lock, &ts);
	}
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

void hw_timer_arm(struct hw_timer *t, uint64_t delay_ns)
{
	uint64_t now;

	if (!t)
		return;
	now = mono_ns();
	pthread_mutex_lock(&t->lock);
	t->armed = true;
	/* Saturate: a delay of centuries is "never" but must not wrap. */
	t->deadline = delay_ns > UINT64_MAX - now ? UINT64_MAX : now + delay_ns;
	pthread_cond_signal(&t->cond);
	pthread_mutex_unlock(&t->lock);
}

void hw_timer_disarm(struct hw_timer *t)
{
	if (!t)
		return;
	pthread_mutex_lock(&t->lock);
	t->armed = false;
	pthread_cond_signal(&t->cond);
	pthread_mutex_unlock(&t->lock);
}

int hw_timer_create(struct hw_timer **out, const struct hw_timer_ops *ops)
{
	pthread_condattr_t ca;
	sigset_t all, old;
	struct hw_timer *t;
	int ret;

	if (!out || !ops)
		return -EINVAL;
	*out = NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->ops = *ops;
	ret = pthread_condattr_init(&ca);
	if (!ret) {
		ret = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		if (!ret)
			ret = pthread_cond_init(&t->cond, &ca);
		pthread_condattr_destroy(&ca);
	}
	if (ret) {
		free(t);
		return -ret;
	}
	pthread_mutex_init(&t->lock, NULL);
	/* Process signals belong to the main thread's signalfd. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = pthread_create(&t->thread, NULL, timer_main, t);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret) {
		pthread_cond_destroy(&t->cond);
		pthread_mutex_destroy(&t->lock);
		free(t);
		return -ret;
	}
	*out = t;
	return 0;
}

void hw_timer_destroy(struct hw_timer *t)
{
	if (!t)
		return;
	pthread_mutex_lock(&t->lock);
	t->quit = true;
	pthread_cond_signal(&t->cond);
	pthread_mutex_unlock(&t->lock);
	pthread_join(t->thread, NULL);
	pthread_cond_destroy(&t->cond);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

int hw_timer_dev_init(pthread_mutex_t *lock, struct hw_timer **timer,
		      const struct hw_timer_ops *ops)
{
	int ret;

	if (!lock || !timer)
		return -EINVAL;
	*timer = NULL;
	ret = pthread_mutex_init(lock, NULL);
	if (ret)
		return -ret;
	if (!ops)
		return 0;
	ret = hw_timer_create(timer, ops);
	if (ret)
		pthread_mutex_destroy(lock);
	return ret;
}

void hw_timer_dev_fini(pthread_mutex_t *lock, struct hw_timer *timer)
{
	hw_timer_destroy(timer);
	pthread_mutex_destroy(lock);
}
