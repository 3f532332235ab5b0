/*
 * ata-stress: drives the ATA disk through every driver path and checks the
 * data, the errors and the interrupt count.
 *
 * Arguments: sectors=N (default 64), seed=S (default 1), phases=LIST where
 * LIST is "all" (default), a comma list of names or a bitmask number:
 *   identify 0x01  probe, soft reset, IDENTIFY; capacity >= 5*N
 *   polled   0x02  region 1 by WRITE/READ SECTORS, polled
 *   irq      0x04  region 2 by WRITE/READ SECTORS, interrupt driven
 *   multiple 0x08  SET MULTIPLE 3 refused; SET MULTIPLE M=min(8, max);
 *                  region 3 by WRITE MULTIPLE (polled), READ MULTIPLE (irq)
 *   reset    0x10  SRST while in irq mode with multiple M; the driver sets
 *                  its modes again; region 4 by WRITE/READ MULTIPLE,
 *                  interrupt driven (a wrong multiple count in the drive
 *                  would break the block and IRQ accounting)
 *   badlba   0x20  READ at LBA = capacity (polled and irq) must fail with
 *                  ERR and IDNF (QEMU answers ABRT: accepted, reported)
 * Requests use uneven sizes so they cross multiple-block boundaries. In
 * interrupt mode every DRQ block and every completion must bring exactly
 * one IRQ: the count is checked. One console line per phase.
 *
 * Disk layout left behind for the host to check: phase k (polled 1, irq 2,
 * multiple 3, reset 4) writes LBAs [k*N, (k+1)*N); nothing else is written.
 * Sector lba holds pattern(seed, lba): 64 little-endian uint64 values, the
 * successive outputs of xorshift64 (x ^= x << 13; x ^= x >> 7;
 * x ^= x << 17; output x) started from
 *   x = (seed * 0x9E3779B97F4A7C15) ^ ((lba + 1) * 0xD1B54A32D192ED03)
 * (mod 2^64), with x = 1 if that is 0.
 */
#include "guest.h"
#include "ata.h"

const char *workload_name = "ata-stress";

enum {
	PH_IDENTIFY = 0x01, PH_POLLED = 0x02, PH_IRQ = 0x04,
	PH_MULTIPLE = 0x08, PH_RESET = 0x10, PH_BADLBA = 0x20, PH_ALL = 0x3f,
};

static const char *const phase_names[] = {
	"identify", "polled", "irq", "multiple", "reset", "badlba",
};

#define CHUNK_MAX   32              /* sectors per request, at most */
#define PIT_HZ      1000
#define IRQ_TIMEOUT 2000            /* PIT ticks: 2 s for one IRQ */

static struct ata_dev dev;
static uint64_t seed;
static uint32_t nsect;
static uint64_t irqs_expected;      /* IRQs the protocol owes us so far */
static uint64_t buf[CHUNK_MAX * 64];
static uint64_t want[64];

static void pattern(uint64_t *dst, uint32_t lba)
{
	uint64_t x = seed * 0x9E3779B97F4A7C15ull ^ ((uint64_t)lba + 1) * 0xD1B54A32D192ED03ull;

	if (!x)
		x = 1;
	for (int i = 0; i < 64; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		dst[i] = x;
	}
}

/* Parses phases=; fails the guest on an unknown name. */
static uint32_t parse_phases(const char *s)
{
	uint32_t mask = 0;

	if (!strcmp(s, "all"))
		return PH_ALL;
	if (s[0] >= '0' && s[0] <= '9')
		return (uint32_t)arg_u64("phases", PH_ALL) & PH_ALL;
	while (*s) {
		size_t len = 0;
		unsigned i;

		while (s[len] && s[len] != ',')
			len++;
		for (i = 0; i < 6; i++)
			if (strlen(phase_names[i]) == len && !strncmp(s, phase_names[i], len))
				break;
		if (i == 6) {
			printf("ata-stress: unknown phase in phases=%s\n", s);
			guest_fail(GUEST_EXIT_FAIL);
		}
		mask |= 1u << i;
		s += len + (s[len] == ',');
	}
	return mask;
}

/* Fails the run with a message naming the step and the driver's result. */
static int fail(const char *what, int rc)
{
	printf("ata-stress: %s failed: %d (status 0x%x error 0x%x)\n",
	       what, rc, dev.status, dev.error);
	return 1;
}

static uint32_t blocks(uint32_t n, int multi)
{
	uint32_t per = multi && dev.multiple ? dev.multiple : 1;

	return (n + per - 1) / per;
}

/* Writes n sectors at lba with pattern data; counts the IRQs owed. */
static int put(uint32_t lba, uint32_t n, int multi)
{
	for (uint32_t s = 0; s < n; s++)
		pattern(buf + 64 * s, lba + s);
	if (dev.use_irq)
		irqs_expected += blocks(n, multi);
	return multi ? ata_write_multiple(&dev, lba, n, buf) : ata_write(&dev, lba, n, buf);
}

/* Reads n sectors at lba and compares them with the pattern; returns 0,
 * a driver error, or 1 on a data mismatch (printed). */
static int get(uint32_t lba, uint32_t n, int multi)
{
	int rc;

	memset(buf, 0, n * 512);
	if (dev.use_irq)
		irqs_expected += blocks(n, multi);
	rc = multi ? ata_read_multiple(&dev, lba, n, buf) : ata_read(&dev, lba, n, buf);
	if (rc)
		return rc;
	for (uint32_t s = 0; s < n; s++) {
		pattern(want, lba + s);
		if (memcmp(buf + 64 * s, want, 512)) {
			printf("ata-stress: data mismatch at LBA %u\n", lba + s);
			return 1;
		}
	}
	return 0;
}

/* Region k written with the wr chunk sizes, read back with the rd ones. */
static int region(uint32_t k, int wmulti, int rmulti, int wirq, int rirq)
{
	static const uint8_t wsz[] = { 1, 13, 3, 8, 24, 5 };
	static const uint8_t rsz[] = { 7, 16, 2, 9, 32, 1 };
	uint32_t base = k * nsect, i = 0, n;
	int rc;

	if ((rc = ata_set_irq_mode(&dev, wirq, IRQ_TIMEOUT)))
		return fail("irq mode", rc);
	for (uint32_t done = 0; done < nsect; done += n, i++) {
		n = wsz[i % sizeof(wsz)];
		n = n < nsect - done ? n : nsect - done;
		if ((rc = put(base + done, n, wmulti)))
			return fail("write", rc);
	}
	if (dev.use_irq)
		irqs_expected++;
	if ((rc = ata_flush(&dev)))
		return fail("flush", rc);
	if ((rc = ata_set_irq_mode(&dev, rirq, IRQ_TIMEOUT)))
		return fail("irq mode", rc);
	i = 0;
	for (uint32_t done = 0; done < nsect; done += n, i++) {
		n = rsz[i % sizeof(rsz)];
		n = n < nsect - done ? n : nsect - done;
		if ((rc = get(base + done, n, rmulti)))
			return rc == 1 ? 1 : fail("read", rc);
	}
	if (dev.irqs != irqs_expected) {
		printf("ata-stress: %lu drive IRQs, the protocol owes %lu\n", dev.irqs, irqs_expected);
		return 1;
	}
	printf("ata-stress: %s: LBA %u-%u written and verified, %lu IRQs so far\n",
	       phase_names[k], base, base + nsect - 1, dev.irqs);
	return ata_set_irq_mode(&dev, 0, 0);
}

static int phase_identify(void)
{
	printf("ata-stress: identify: \"%s\" serial \"%s\", %u sectors, multiple max %u cur %u\n",
	       dev.model, dev.serial, dev.sectors, dev.max_multiple, dev.multiple);
	if (!dev.model[0] || !dev.max_multiple || (uint64_t)nsect * 5 > dev.sectors) {
		printf("ata-stress: disk too small or IDENTIFY incomplete (need %lu sectors)\n",
		       (uint64_t)nsect * 5);
		return 1;
	}
	return 0;
}

static uint8_t multiple_count(void)
{
	return dev.max_multiple < 8 ? dev.max_multiple : 8;
}

static int phase_multiple(void)
{
	int rc = ata_set_multiple(&dev, 3);

	if (rc != ATA_ERR_ABRT)
		return fail("SET MULTIPLE 3 (must abort)", rc);
	if ((rc = ata_set_multiple(&dev, multiple_count())))
		return fail("SET MULTIPLE", rc);
	return region(3, 1, 1, 0, 1);
}

static int phase_reset(void)
{
	uint16_t id[256];
	int rc;

	if ((rc = ata_set_irq_mode(&dev, 1, IRQ_TIMEOUT)))
		return fail("irq mode", rc);
	if ((rc = ata_set_multiple(&dev, multiple_count())))
		return fail("SET MULTIPLE", rc);
	irqs_expected++;
	if ((rc = ata_reset(&dev)))
		return fail("soft reset", rc);
	irqs_expected++;                            /* the driver's SET MULTIPLE */
	if ((rc = ata_identify(&dev, id)))
		return fail("IDENTIFY after reset", rc);
	irqs_expected++;
	/* Word 59 is informational only: QEMU caches its IDENTIFY data. The
	 * real check is region 4: with another multiple count in the drive,
	 * the blocks and IRQs would not match what the driver expects. */
	printf("ata-stress: reset: modes set again (multiple %u, IDENTIFY word 59 0x%x)\n",
	       dev.multiple, id[59]);
	return region(4, 1, 1, 1, 1);
}

/* One read at LBA = capacity; the drive must refuse it. */
static int bad_read(int irq)
{
	int rc = ata_set_irq_mode(&dev, irq, IRQ_TIMEOUT);

	if (rc)
		return fail("irq mode", rc);
	if (irq)
		irqs_expected++;                    /* the error completion interrupts */
	rc = ata_read(&dev, dev.sectors, 1, buf);
	if (rc <= 0 || !(rc & (ATA_ERR_IDNF | ATA_ERR_ABRT)))
		return fail("read past the end (must fail with IDNF)", rc);
	printf("ata-stress: badlba: %s read at LBA %u refused, error 0x%x (%s)\n",
	       irq ? "irq" : "polled", dev.sectors, rc, rc & ATA_ERR_IDNF ? "IDNF" : "ABRT");
	if (irq)
		irqs_expected++;
	if ((rc = ata_read(&dev, dev.sectors - 1, 1, buf)))
		return fail("read of the last sector", rc);
	if (dev.irqs != irqs_expected) {
		printf("ata-stress: %lu drive IRQs, the protocol owes %lu\n", dev.irqs, irqs_expected);
		return 1;
	}
	return ata_set_irq_mode(&dev, 0, 0);
}

int workload_main(void)
{
	uint32_t phases = parse_phases(arg_str("phases", "all"));
	uint64_t n = arg_u64("sectors", 64);
	int rc;

	seed = arg_u64("seed", 1);
	if (n < 1 || n > 1u << 20) {
		printf("ata-stress: sectors=%lu out of range (1..%u)\n", n, 1u << 20);
		return 1;
	}
	nsect = (uint32_t)n;
	printf("ata-stress: sectors=%u seed=%lu phases=0x%x\n", nsect, seed, phases);
	if ((rc = ata_probe(&dev, ATA_PRIMARY_IO, ATA_PRIMARY_CTL, ATA_PRIMARY_IRQ)))
		return fail("probe", rc);
	if (phases & (PH_IRQ | PH_MULTIPLE | PH_RESET | PH_BADLBA)) {
		pit_init(PIT_HZ);                   /* interrupt-mode timeouts count ticks */
		pic_unmask(0);
	}
	if ((phases & PH_IDENTIFY) && phase_identify())
		return 1;
	if ((uint64_t)nsect * 5 > dev.sectors)
		return fail("capacity check", (int)dev.sectors);
	if ((phases & PH_POLLED) && region(1, 0, 0, 0, 0))
		return 1;
	if ((phases & PH_IRQ) && region(2, 0, 0, 1, 1))
		return 1;
	if ((phases & PH_MULTIPLE) && phase_multiple())
		return 1;
	if ((phases & PH_RESET) && phase_reset())
		return 1;
	if ((phases & PH_BADLBA) && (bad_read(0) || bad_read(1)))
		return 1;
	printf("ata-stress: all phases passed, %lu drive IRQs\n", dev.irqs);
	return 0;
}
