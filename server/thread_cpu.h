/*
 * thread_cpu.h — pinning the calling thread to one CPU, for the engine's
 * worker when `worker_cpu` is configured.
 *
 * A latency-sensitive deployment gives the worker a core of its own (with
 * `busy_poll`, the worker never sleeps, so the core is spent whole): the
 * thread's caches then hold only its own work and the scheduler never
 * moves it. These are Linux calls (sched_setaffinity / sched_getaffinity on
 * the calling thread).
 */
#ifndef CLB_THREAD_CPU_H
#define CLB_THREAD_CPU_H

#include <stddef.h>

/* Restricts the calling thread to CPU cpu. CLB_OK, or CLB_EINVAL with
 * "CPU N is not one this process may run on (it may run on 0-3)" in err
 * (cpu negative, too high, offline or outside the process's own mask:
 * nothing changed). */
int clb_thread_pin_self(int cpu, char *err, size_t errlen);

/* The one CPU the calling thread is restricted to, or -1 when it may run
 * on several (or the mask cannot be read). */
int clb_thread_pinned_cpu(void);

#endif
