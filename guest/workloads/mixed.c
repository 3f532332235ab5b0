/*
 * mixed: all three devices at once, interrupt-driven. While the UART echoes
 * a byte stream through its loopback (IRQ4) and ringblk requests are in
 * flight (IRQ11), the ATA driver writes and reads back sectors, halting
 * for IRQ14; every interrupt lands wherever the others happen to be.
 *
 * Arguments: rounds= (default 6), sectors= ATA sectors per round (default
 * 8), depth= ringblk requests per round (default 8), bytes= UART bytes
 * (default 256), seed= (default 1).
 * Disk layout: ATA round r writes sectors [r*sectors, (r+1)*sectors) and
 * ringblk round r request j writes one sector at LBA r*depth + j; 64-bit
 * word k of sector lba holds (lba << 32 | k) ^ seed * 0x9e3779b97f4a7c15
 * ^ tag, tag 0xa7a0000000000000 on the ATA disk and 0xb1b0000000000000 on
 * ringblk's.
 */
#include "guest.h"
#include "ata.h"
#include "ringblk.h"
#include "uart.h"

const char *workload_name = "mixed";

#define ATA_TAG 0xa7a0000000000000ull
#define RB_TAG  0xb1b0000000000000ull
#define MAX_SECT 32
#define MAX_DEPTH 64

static uint64_t seed;
static uint64_t abuf[MAX_SECT * 64] __attribute__((aligned(4096)));
static uint64_t rbuf[MAX_DEPTH][64] __attribute__((aligned(4096)));

static uint64_t word(uint64_t lba, uint32_t k, uint64_t tag)
{
	return (lba << 32 | k) ^ seed * 0x9e3779b97f4a7c15ull ^ tag;
}

static void fill(uint64_t *w, uint64_t lba, uint32_t n, uint64_t tag)
{
	for (uint32_t s = 0; s < n; s++)
		for (uint32_t k = 0; k < 64; k++)
			w[s * 64 + k] = word(lba + s, k, tag);
}

static int verify(const uint64_t *w, uint64_t lba, uint32_t n, uint64_t tag)
{
	for (uint32_t s = 0; s < n; s++)
		for (uint32_t k = 0; k < 64; k++)
			if (w[s * 64 + k] != word(lba + s, k, tag))
				return -1;
	return 0;
}

/* Takes every ringblk completion available; returns how many, or -1 on error. */
static int reap(void)
{
	struct ringblk_cqe c[16];
	int n = rb_reap(c, 16);
	for (int i = 0; i < n; i++)
		if (c[i].status != RB_OK)
			return -1;
	return n;
}

/* One round: ringblk op on depth sectors in flight while the ATA disk does
 * the same op on its sectors. Returns 0 or a failure step. */
static int round_trip(struct ata_dev *d, uint32_t r, uint32_t sectors, uint32_t depth, int write)
{
	uint8_t op = write ? RB_OP_WRITE : RB_OP_READ;
	for (uint32_t j = 0; j < depth; j++) {
		uint64_t lba = (uint64_t)r * depth + j;
		if (write)
			fill(rbuf[j], lba, 1, RB_TAG);
		if (rb_submit(op, (uint16_t)j, lba, 1, (uintptr_t)rbuf[j]))
			return 1;
	}
	uint32_t lba = r * sectors;
	if (write) {
		fill(abuf, lba, sectors, ATA_TAG);
		if (ata_write(d, lba, sectors, abuf))
			return 2;
	} else if (ata_read(d, lba, sectors, abuf) || verify(abuf, lba, sectors, ATA_TAG)) {
		return 3;
	}
	for (uint32_t done = 0; done < depth;) {
		int n = reap();
		if (n < 0)
			return 4;
		if (!n && rb_wait())
			return 5;
		done += (uint32_t)n;
	}
	for (uint32_t j = 0; !write && j < depth; j++)
		if (verify(rbuf[j], (uint64_t)r * depth + j, 1, RB_TAG))
			return 6;
	return 0;
}

int workload_main(void)
{
	uint32_t rounds = (uint32_t)arg_u64("rounds", 6);
	uint32_t sectors = (uint32_t)arg_u64("sectors", 8);
	uint32_t depth = (uint32_t)arg_u64("depth", 8);
	uint32_t bytes = (uint32_t)arg_u64("bytes", 256);
	seed = arg_u64("seed", 1);
	GUEST_ASSERT(sectors >= 1 && sectors <= MAX_SECT && depth >= 1 && depth <= MAX_DEPTH);

	struct ata_dev d;
	struct uart_mode console;
	struct uart_echo e = { .bytes = bytes, .seed = (uint32_t)seed };
	int fail = 0, rc = ata_probe(&d, ATA_PRIMARY_IO, ATA_PRIMARY_CTL, ATA_PRIMARY_IRQ);
	if (rc) {
		printf("mixed: no ATA disk (%d)\n", rc);
		return 1;
	}
	pit_init(100);               /* the ATA driver's interrupt timeouts count PIT ticks */
	pic_unmask(0);
	sti();
	if (ata_set_irq_mode(&d, 1, 200) || rb_init(64, 1)) {
		puts("mixed: device set-up failed");
		return 1;
	}
	printf("mixed: %u rounds, ata %u sectors, ringblk depth %u, uart %u bytes\n",
	       rounds, sectors, depth, bytes);

	/* No printing from here until the console is back. */
	uart_mode_save(&console);
	uart_set_line(1, UART_LCR_8N1);
	outb(COM1_BASE + UART_FCR, (uint8_t)(UART_FCR_ENABLE | UART_FCR_RESETS | uart_trigger_bits(8)));
	outb(COM1_BASE + UART_MCR, UART_MCR_LOOP | UART_MCR_OUT2 | UART_MCR_DTR | UART_MCR_RTS);
	uart_echo_start(&e);
	for (uint32_t r = 0; r < rounds && !fail; r++)
		fail = round_trip(&d, r, sectors, depth, 1) ?: round_trip(&d, r, sectors, depth, 0);
	for (uint32_t waits = 0; !fail && !uart_echo_done(&e) && waits < 100000; waits++) {
		cli();
		if (!uart_echo_done(&e))
			__asm__ volatile("sti; hlt" : : : "memory");
		sti();
	}
	int echo_ok = uart_echo_done(&e) && uart_echo_ok(&e);
	uart_echo_stop(&e);
	uart_mode_restore(&console);

	printf("mixed: ata irqs %lu, uart sent %u received %u mismatches %u, ringblk waits %lu\n",
	       d.irqs, e.sent, e.received, e.mismatches, rb_waits());
	if (fail)
		printf("mixed: round failed at step %d\n", fail);
	if (!echo_ok)
		puts("mixed: uart echo incomplete or wrong");
	return fail || !echo_ok;
}
