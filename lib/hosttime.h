/*
 * Host time, for measuring the monitor (wall times, benchmarks, timeouts),
 * never for the guest: the guest sees only the virtual clock (clock.h,
 * DESIGN rule 3).
 */
#ifndef DEVIRT_HOSTTIME_H
#define DEVIRT_HOSTTIME_H

#include <stdint.h>
#include <time.h>

/* Returns CLOCK_MONOTONIC in ns (the clock bpf_ktime_get_ns() reads too). */
static inline uint64_t host_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#endif
