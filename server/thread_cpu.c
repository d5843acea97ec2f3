/*
 * thread_cpu.c — see thread_cpu.h. cpu_set_t and sched_*affinity are GNU
 * extensions of glibc: _GNU_SOURCE for this file alone.
 */
#define _GNU_SOURCE
#include "thread_cpu.h"

#include <sched.h>
#include <stdio.h>

#include "error.h"

/* "0-3,6" for the CPUs in set (cut short when it does not fit). */
static void set_text(const cpu_set_t *set, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = '\0';
    for (int c = 0; c < CPU_SETSIZE && n + 16 < cap; c++) {
        if (!CPU_ISSET(c, set))
            continue;
        int last = c;
        while (last + 1 < CPU_SETSIZE && CPU_ISSET(last + 1, set))
            last++;
        int w = last > c ? snprintf(out + n, cap - n, "%s%d-%d", n ? "," : "", c, last)
                         : snprintf(out + n, cap - n, "%s%d", n ? "," : "", c);
        n += (size_t)w;
        c = last;
    }
}

int clb_thread_pin_self(int cpu, char *err, size_t errlen)
{
    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0)
        return clb_errf(err, errlen, CLB_EINVAL, "the CPUs this process may run on are unknown");
    if (cpu < 0 || cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, &allowed)) {
        char list[128];
        set_text(&allowed, list, sizeof(list));
        return clb_errf(err, errlen, CLB_EINVAL,
                        "CPU %d is not one this process may run on (it may run on %s)", cpu, list);
    }
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    if (sched_setaffinity(0, sizeof(one), &one) != 0)
        return clb_errf(err, errlen, CLB_EINVAL, "CPU %d refused the thread", cpu);
    return CLB_OK;
}

int clb_thread_pinned_cpu(void)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) != 0 || CPU_COUNT(&set) != 1)
        return -1;
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &set))
            return c;
    return -1;
}
