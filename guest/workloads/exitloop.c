/*
 * exitloop: the VM exit benchmark.
 *
 * Performs n= (default 100000) trapping accesses back to back and nothing
 * else: mode=pio writes port 0x80, mode=mmio writes 32 bits to the
 * monitor's scratch MMIO page at guest-physical 0xfe800000 (mapped
 * uncached by boot.S). The host times the run; the guest only counts.
 */
#include "guest.h"

#define PIO_PORT	0x80
#define SCRATCH_MMIO	0xfe800000u

const char *workload_name = "exitloop";

int workload_main(void)
{
	uint64_t n = arg_u64("n", 100000);
	const char *mode = arg_str("mode", "pio");

	if (strcmp(mode, "pio") == 0) {
		for (uint64_t i = 0; i < n; i++)
			outb(PIO_PORT, (uint8_t)i);
	} else if (strcmp(mode, "mmio") == 0) {
		for (uint64_t i = 0; i < n; i++)
			mmio_write32(SCRATCH_MMIO, (uint32_t)i);
	} else {
		printf("unknown mode=%s (want pio or mmio)\n", mode);
		return 1;
	}
	printf("exitloop: %lu %s writes done\n", n, mode);
	return 0;
}
