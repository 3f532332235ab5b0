/*
 * ATA disk model driven by the register sequences a PIO driver uses, on a
 * temporary image, with the virtual clock advanced past each latency and
 * the interrupt line recorded: every command, its error paths, the BSY /
 * DRQ / INTRQ protocol, nIEN, SRST and save/restore in mid-transfer.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "../devices/ata.h"

#define DISK_SECTORS 4096u          /* 2 MiB */

/* A drive on its own clock and image; irq_set records into it. */
struct rig {
	struct clock clk;
	struct blk disk;
	struct hw *d;
	int line, rises;
};

static struct rig rigs[2];
static struct rig *R = &rigs[0];    /* the drive the helpers talk to */

static void irq(void *ctx, int line, int level)
{
	struct rig *r = ctx;
	cr_assert_eq(line, 14);
	r->rises += level && !r->line;
	r->line = level;
}

static void rig_drive(struct rig *r)
{
	struct hw_env env = { .clock = &r->clk, .irq_set = irq, .irq_ctx = r };
	r->d = ata__create(&env, "ata", 14, &r->disk);
	cr_assert(r->d);
}

static void rig_open(struct rig *r)
{
	char path[] = "/tmp/devirt-ata-XXXXXX", err[128];
	int fd = mkstemp(path);
	cr_assert(fd >= 0, "mkstemp: %s", strerror(errno));
	close(fd);
	memset(r, 0, sizeof(*r));
	clock__init(&r->clk);
	cr_assert_eq(blk__open(&r->disk, path, DISK_SECTORS * 512ull, err, sizeof(err)), 0, "%s", err);
	unlink(path);
	rig_drive(r);
}

static void rig_close(struct rig *r)
{
	r->d->ops->destroy(r->d);
	blk__close(&r->disk);
}

static void setup(void) { R = &rigs[0]; rig_open(R); }
static void teardown(void) { rig_close(&rigs[0]); }

TestSuite(ata, .init = setup, .fini = teardown);

static uint8_t in(uint64_t off) { return (uint8_t)R->d->ops->read(R->d, off, 1); }
static void out(uint64_t off, uint8_t v) { R->d->ops->write(R->d, off, 1, v); }
static uint16_t inw_(void) { return (uint16_t)R->d->ops->read(R->d, ATA_DATA, 2); }
static void outw_(uint16_t v) { R->d->ops->write(R->d, ATA_DATA, 2, v); }
static uint8_t alt(void) { return in(ATA_CTRL_OFF); }
static uint64_t now(void) { return R->clk.now; }
static void advance(uint64_t ns) { clock__run_until(&R->clk, R->clk.now + ns); }

/* Runs events until the drive drops BSY (fails if it never would). */
static void wait_not_busy(void)
{
	while (alt() & ATA_SR_BSY) {
		uint64_t next = clock__next(&R->clk);
		cr_assert_neq(next, UINT64_MAX, "BSY with no event pending");
		clock__run_until(&R->clk, next);
	}
}

/* Loads an LBA28 taskfile and writes the command. */
static void issue(uint8_t cmd, uint32_t lba, uint8_t count)
{
	out(ATA_DEVICE, (uint8_t)(0xe0 | ((lba >> 24) & 0x0f)));
	out(ATA_COUNT, count);
	out(ATA_LBA_LO, (uint8_t)lba);
	out(ATA_LBA_MID, (uint8_t)(lba >> 8));
	out(ATA_LBA_HI, (uint8_t)(lba >> 16));
	out(ATA_COMMAND, cmd);
}

static uint16_t pattern(uint32_t lba, unsigned word) { return (uint16_t)(lba * 0x9e37u ^ word * 0x0101u ^ 0x5a5a); }

/* One non-data command with features/count; returns the final status. */
static uint8_t nondata(uint8_t cmd, uint8_t features, uint8_t count)
{
	out(ATA_FEATURES, features);
	out(ATA_COUNT, count);
	out(ATA_COMMAND, cmd);
	cr_assert(alt() & ATA_SR_BSY);
	wait_not_busy();
	return in(ATA_STATUS);
}

/* Reads IDENTIFY data into id. */
static void identify(uint16_t id[256])
{
	int rises = R->rises;
	out(ATA_DEVICE, 0xa0);
	out(ATA_COMMAND, ATA_CMD_IDENTIFY);
	wait_not_busy();
	cr_assert_eq(R->rises, rises + 1);
	cr_assert_eq(in(ATA_STATUS), ATA_SR_DRDY | ATA_SR_DSC | ATA_SR_DRQ);
	for (int i = 0; i < 256; i++)
		id[i] = inw_();
	cr_assert_eq(alt(), ATA_SR_DRDY | ATA_SR_DSC);
}

/* Writes count sectors (0 = 256) at lba in blocks of per sectors, checking
 * the PIO-out protocol; data is pattern(). */
static void write_pio(uint8_t cmd, uint32_t lba, uint8_t count, unsigned per)
{
	unsigned n = count ? count : 256, done = 0;
	int rises = R->rises;
	issue(cmd, lba, count);
	cr_assert_eq(alt() & ATA_SR_BSY, ATA_SR_BSY);
	wait_not_busy();
	cr_assert_eq(R->rises, rises, "no INTRQ before the first PIO-out block");
	while (done < n) {
		unsigned blk = n - done < per ? n - done : per;
		cr_assert_eq(in(ATA_STATUS), ATA_SR_DRDY | ATA_SR_DSC | ATA_SR_DRQ, "at sector %u", done);
		for (unsigned s = 0; s < blk; s++)
			for (unsigned w = 0; w < 256; w++)
				outw_(pattern(lba + done + s, w));
		done += blk;
		cr_assert(alt() & ATA_SR_BSY, "media time after each block");
		wait_not_busy();
		cr_assert_eq(R->rises, ++rises, "INTRQ after each block written");
	}
	cr_assert_eq(in(ATA_STATUS), ATA_SR_DRDY | ATA_SR_DSC);
	cr_assert_eq(R->line, 0);
}

/* Reads count sectors at lba in blocks of per, checking data and protocol. */
static void read_pio(uint8_t cmd, uint32_t lba, uint8_t count, unsigned per)
{
	unsigned n = count ? count : 256, done = 0;
	int rises = R->rises;
	issue(cmd, lba, count);
	while (done < n) {
		unsigned blk = n - done < per ? n - done : per;
		cr_assert(alt() & ATA_SR_BSY);
		wait_not_busy();
		cr_assert_eq(R->rises, ++rises, "INTRQ for each PIO-in block");
		cr_assert_eq(in(ATA_STATUS), ATA_SR_DRDY | ATA_SR_DSC | ATA_SR_DRQ);
		for (unsigned s = 0; s < blk; s++)
			for (unsigned w = 0; w < 256; w++)
				cr_assert_eq(inw_(), pattern(lba + done + s, w), "lba %u word %u", lba + done + s, w);
		done += blk;
	}
	cr_assert_eq(alt(), ATA_SR_DRDY | ATA_SR_DSC, "PIO-in ends without BSY");
	advance(1000000);
	cr_assert_eq(R->rises, rises, "and without a completion INTRQ");
}

/* The image holds pattern() at [lba, lba+n). */
static void check_image(uint32_t lba, unsigned n)
{
	uint8_t buf[512];
	for (unsigned s = 0; s < n; s++) {
		cr_assert_eq(blk__read(&R->disk, lba + s, buf, 1), 0);
		for (unsigned w = 0; w < 256; w++)
			cr_assert_eq(buf[2 * w] | buf[2 * w + 1] << 8, pattern(lba + s, w));
	}
}

/* Ready, diagnostic code 01h and the ATA signature in the taskfile. */
static void assert_signature(void)
{
	cr_assert_eq(in(ATA_STATUS), ATA_SR_DRDY | ATA_SR_DSC);
	cr_assert_eq(in(ATA_ERROR), 0x01);
	cr_assert_eq(in(ATA_COUNT), 1);
	cr_assert_eq(in(ATA_LBA_LO), 1);
	cr_assert_eq(in(ATA_LBA_MID), 0);
	cr_assert_eq(in(ATA_LBA_HI), 0);
	cr_assert_eq(in(ATA_DEVICE) & 0x0f, 0);
}

/* Loads a CHS taskfile and writes the command. */
static void issue_chs(uint8_t cmd, unsigned c, unsigned h, unsigned s, uint8_t count)
{
	out(ATA_DEVICE, (uint8_t)(0xa0 | h));
	out(ATA_COUNT, count);
	out(ATA_LBA_LO, (uint8_t)s);
	out(ATA_LBA_MID, (uint8_t)c);
	out(ATA_LBA_HI, (uint8_t)(c >> 8));
	out(ATA_COMMAND, cmd);
}

Test(ata, power_on_signature)
{
	assert_signature();
	cr_assert_eq(in(ATA_DEVICE), 0xa0);
	cr_assert_eq(R->line, 0);
}

Test(ata, identify_words)
{
	uint16_t id[256];
	char model[41];
	identify(id);
	for (int i = 0; i < 20; i++) {
		model[2 * i] = (char)(id[27 + i] >> 8);
		model[2 * i + 1] = (char)id[27 + i];
	}
	model[40] = 0;
	cr_assert_str_eq(model, "DEVIRT ATA DISK                         ");
	cr_assert_eq(id[0], 0x0040);
	cr_assert_eq(id[10] >> 8, 'D', "strings are byte-swapped per word");
	cr_assert_eq(id[23], ('1' << 8) | '.');
	cr_assert_eq(id[47], 0x8000 | 16);
	cr_assert(id[49] & (1 << 9), "LBA supported");
	cr_assert_eq(id[59], 0x100 | 16, "power-on multiple setting");
	cr_assert_eq(id[60] | (uint32_t)id[61] << 16, DISK_SECTORS);
	cr_assert_eq(id[1], DISK_SECTORS / (16 * 63));
	cr_assert_eq(id[3], 16);
	cr_assert_eq(id[6], 63);
	cr_assert_eq(id[83] & 0xc000, 0x4000);
	cr_assert(id[83] & (1 << 12), "FLUSH CACHE supported");
	cr_assert_eq(id[83] & (1 << 10), 0, "no 48-bit feature set");
	cr_assert(id[85] & (1 << 5), "write cache on by default");
	cr_assert(id[86] & (1 << 12));
	uint8_t sum = 0;
	for (int i = 0; i < 256; i++)
		sum = (uint8_t)(sum + (id[i] & 0xff) + (id[i] >> 8));
	cr_assert_eq(id[255] & 0xff, 0xa5);
	cr_assert_eq(sum, 0, "integrity word checksum");
}

Test(ata, bsy_timing_is_visible)
{
	uint64_t t0 = now();
	issue(ATA_CMD_READ, 7, 1);
	cr_assert_eq(alt(), ATA_SR_BSY | ATA_SR_DRDY);
	for (uint64_t off = 1; off <= 7; off++)
		cr_assert_eq(in(off), ATA_SR_BSY | ATA_SR_DRDY, "taskfile reads give status while BSY");
	out(ATA_LBA_LO, 0x99);                  /* ignored while BSY */
	clock__run_until(&R->clk, t0 + ATA_CMD_NS + ATA_SECTOR_NS - 1);
	cr_assert_eq(alt(), ATA_SR_BSY | ATA_SR_DRDY);
	cr_assert_eq(R->line, 0);
	clock__run_until(&R->clk, t0 + ATA_CMD_NS + ATA_SECTOR_NS);
	cr_assert_eq(alt(), ATA_SR_DRDY | ATA_SR_DSC | ATA_SR_DRQ);
	cr_assert_eq(R->line, 1);
	cr_assert_eq(in(ATA_LBA_LO), 8, "taskfile points past the block read");
	cr_assert_eq(in(ATA_COUNT), 0);
}

Test(ata, write_read_single_sector_commands)
{
	static const uint8_t counts[] = { 1, 3, 0 };
	uint32_t lba = 10;
	for (unsigned i = 0; i < 3; i++) {
		write_pio(ATA_CMD_WRITE, lba, counts[i], 1);
		read_pio(ATA_CMD_READ, lba, counts[i], 1);
		check_image(lba, counts[i] ? counts[i] : 256);
		lba += 300;
	}
}

Test(ata, write_read_multiple_across_blocks)
{
	cr_assert_eq(nondata(ATA_CMD_SET_MULTIPLE, 0, 4), ATA_SR_DRDY | ATA_SR_DSC);
	write_pio(ATA_CMD_WRITE_MULTIPLE, 100, 11, 4);      /* blocks 4, 4, 3 */
	read_pio(ATA_CMD_READ_MULTIPLE, 100, 11, 4);
	read_pio(ATA_CMD_READ, 101, 3, 1);                  /* same data, other command */
	write_pio(ATA_CMD_WRITE_MULTIPLE, 500, 3, 4);       /* shorter than a block */
	read_pio(ATA_CMD_READ_MULTIPLE, 500, 3, 4);
	cr_assert_eq(nondata(ATA_CMD_SET_MULTIPLE, 0, 16), ATA_SR_DRDY | ATA_SR_DSC);
	write_pio(ATA_CMD_WRITE_MULTIPLE, 1000, 0, 16);     /* 256 sectors */
	read_pio(ATA_CMD_READ_MULTIPLE, 1000, 0, 16);
	read_pio(ATA_CMD_READ_MULTIPLE, 1001, 1, 16);
	write_pio(ATA_CMD_WRITE_MULTIPLE, 2000, 1, 16);
	read_pio(ATA_CMD_READ_MULTIPLE, 2000, 1, 16);
	check_image(100, 11);
	check_image(1000, 256);
}

Test(ata, set_multiple_rejects_bad_counts)
{
	uint16_t id[256];
	cr_assert_eq(nondata(ATA_CMD_SET_MULTIPLE, 0, 8), ATA_SR_DRDY | ATA_SR_DSC);
	cr_assert_eq(nondata(ATA_CMD_SET_MULTIPLE, 0, 3), ATA_SR_DRDY | ATA_SR_ERR);
	cr_assert_eq(in(ATA_ERROR), ATA_ER_ABRT);
	cr_assert_eq(nondata(ATA_CMD_SET_MULTIPLE, 0, 32), ATA_SR_DRDY | ATA_SR_ERR);
	identify(id);
	cr_assert_eq(id[59], 0x100 | 8, "a refused SET MULTIPLE keeps the setting");
	cr_assert_eq(nondata(ATA_CMD_SET_MULTIPLE, 0, 0), ATA_SR_DRDY | ATA_SR_DSC);
	identify(id);
	cr_assert_eq(id[59], 0);
	issue(ATA_CMD_READ_MULTIPLE, 0, 1);
	wait_not_busy();
	cr_assert_eq(in(ATA_STATUS), ATA_SR_DRDY | ATA_SR_ERR, "multiple mode disabled");
	cr_assert_eq(in(ATA_ERROR), ATA_ER_ABRT);
	issue(ATA_CMD_WRITE_MULTIPLE, 0, 1);
	wait_not_busy();
	cr_assert_eq(in(ATA_STATUS), ATA_SR_DRDY | ATA_SR_ERR);
	cr_assert_eq(in(ATA_ERROR), ATA_ER_ABRT);
}

Test(ata, unknown_command_aborts_with_intrq)
{
	static const uint8_t cmds[] = { 0x00, 0x24, 0x50, 0xc8, 0xff };
	for (unsigned i = 0; i < sizeof(cmds); i++) {
		int rises = R->rises;
		out(ATA_COMMAND, cmds[i]);
		wait_not_busy();
		cr_assert_eq(R->rises, rises + 1);
		cr_assert_eq(in(ATA_STATUS), ATA_SR_DRDY | ATA_SR_ERR, "cmd 0x%x", cmds[i]);
		cr_assert_eq(in(ATA_ERROR), ATA_ER_ABRT);
	}
	out(ATA_COMMAND, ATA_CMD_INIT_PARAMS);
	wait_not_busy();
	cr_assert_eq(in(ATA_STATUS), ATA_SR_DRDY | ATA_SR_DSC, "INITIALIZE DEVICE PARAMETERS accepted");
	cr_assert_eq(in(ATA_ERROR), 0, "error cleared by the next command");
}

Test(ata, out_of_range_lba_is_idnf)
{
	uint8_t before[512], after[512];
	issue(ATA_CMD_READ, DISK_SECTORS, 1);
	wait_not_busy();
	cr_assert_eq(in(ATA_STATUS), ATA_SR_DRDY | ATA_SR_ERR);
	cr_assert_eq(in(ATA_ERROR), ATA_ER_IDNF);
	issue(ATA_CMD_READ, DISK_SECTORS - 1, 2);          /* runs past the end */
	wait_not_busy();
	cr_assert_eq(in(ATA_ERROR), ATA_ER_IDNF);
	cr_assert_eq(blk__read(&R->disk, DISK_SECTORS - 1, before, 1), 0);
	issue(ATA_CMD_WRITE, DISK_SECTORS - 1, 2);
	wait_not_busy();
	cr_assert_eq(in(ATA_STATUS), ATA_SR_DRDY | ATA_SR_ERR, "no DRQ for a bad range");
	cr_assert_eq(in(ATA_ERROR), ATA_ER_IDNF);
	issue(ATA_CMD_READ, 0x0fffffff, 0);
	wait_not_busy();
	cr_assert_eq(in(ATA_ERROR), ATA_ER_IDNF);
	issue_chs(ATA_CMD_READ, 0, 0, 0, 1);      /* CHS sectors start at 1 */
	wait_not_busy();
	cr_assert_eq(in(ATA_ERROR), ATA_ER_IDNF);
	write_pio(ATA_CMD_WRITE, DISK_SECTORS - 1, 1, 1);  /* the last sector is fine */
	cr_assert_eq(blk__read(&R->disk, DISK_SECTORS - 1, after, 1), 0);
	cr_assert_neq(memcmp(before, after, 512), 0);
}

Test(ata, chs_addresses_the_same_sectors)
{
	uint32_t lba = (2 * 16 + 3) * 63 + 4;              /* C=2 H=3 S=5 */
	write_pio(ATA_CMD_WRITE, lba, 2, 1);
	issue_chs(ATA_CMD_READ, 2, 3, 5, 2);
	for (unsigned s = 0; s < 2; s++) {
		wait_not_busy();
		cr_assert_eq(in(ATA_STATUS) & ATA_SR_DRQ, ATA_SR_DRQ);
		for (unsigned w = 0; w < 256; w++)
			cr_assert_eq(inw_(), pattern(lba + s, w));
	}
	cr_assert_eq(in(ATA_LBA_LO), 7, "CHS taskfile advanced in CHS");
	cr_assert_eq(in(ATA_DEVICE), 0xa0 | 3);
}

Test(ata, nien_masks_the_line)
{
	out(ATA_CTRL_OFF, ATA_CTL_NIEN);
	issue(ATA_CMD_READ, 0, 1);
	wait_not_busy();
	cr_assert_eq(alt() & ATA_SR_DRQ, ATA_SR_DRQ);
	cr_assert_eq(R->line, 0, "nIEN keeps the line low");
	cr_assert_eq(R->rises, 0);
	out(ATA_CTRL_OFF, 0);
	cr_assert_eq(R->line, 1, "the pending INTRQ appears when nIEN clears");
	out(ATA_CTRL_OFF, ATA_CTL_NIEN);
	cr_assert_eq(R->line, 0);
	in(ATA_STATUS);
	out(ATA_CTRL_OFF, 0);
	cr_assert_eq(R->line, 0, "acknowledged while masked");
}

Test(ata, intrq_acknowledge_rules)
{
	issue(ATA_CMD_READ, 0, 2);
	wait_not_busy();
	cr_assert_eq(R->line, 1);
	alt();
	cr_assert_eq(R->line, 1, "alternate status does not acknowledge");
	in(ATA_ERROR);
	cr_assert_eq(R->line, 1);
	in(ATA_STATUS);
	cr_assert_eq(R->line, 0, "status acknowledges");
	for (int i = 0; i < 256; i++)
		inw_();
	wait_not_busy();
	cr_assert_eq(R->line, 1);
	out(ATA_COMMAND, ATA_CMD_FLUSH);          /* ignored during DRQ, but clears INTRQ */
	cr_assert_eq(R->line, 0);
	cr_assert_eq(alt(), ATA_SR_DRDY | ATA_SR_DSC | ATA_SR_DRQ);
}

Test(ata, data_port_outside_drq)
{
	cr_assert_eq(inw_(), 0, "idle data reads return 0");
	outw_(0x1234);                            /* dropped */
	write_pio(ATA_CMD_WRITE, 5, 1, 1);
	read_pio(ATA_CMD_READ, 5, 1, 1);
	/* During PIO-in, data writes are dropped; during PIO-out, reads give 0. */
	issue(ATA_CMD_READ, 5, 1);
	wait_not_busy();
	outw_(0xdead);
	for (unsigned w = 0; w < 256; w++)
		cr_assert_eq(inw_(), pattern(5, w));
	cr_assert_eq(inw_(), 0, "nothing after the last word");
	issue(ATA_CMD_WRITE, 6, 1);
	wait_not_busy();
	cr_assert_eq(inw_(), 0);
	for (unsigned w = 0; w < 256; w++)
		outw_(pattern(6, w));
	wait_not_busy();
	check_image(6, 1);
	/* A 32-bit access moves two words, an 8-bit one moves one word's low byte. */
	issue(ATA_CMD_READ, 5, 1);
	wait_not_busy();
	uint32_t dw = (uint32_t)R->d->ops->read(R->d, ATA_DATA, 4);
	cr_assert_eq(dw, pattern(5, 0) | (uint32_t)pattern(5, 1) << 16);
	cr_assert_eq(R->d->ops->read(R->d, ATA_DATA, 1), pattern(5, 2) & 0xff);
	cr_assert_eq(inw_(), pattern(5, 3));
}

Test(ata, flush_cache)
{
	uint64_t t0 = now();
	out(ATA_COMMAND, ATA_CMD_FLUSH);
	clock__run_until(&R->clk, t0 + ATA_FLUSH_NS - 1);
	cr_assert(alt() & ATA_SR_BSY);
	clock__run_until(&R->clk, t0 + ATA_FLUSH_NS);
	cr_assert_eq(R->line, 1);
	cr_assert_eq(in(ATA_STATUS), ATA_SR_DRDY | ATA_SR_DSC);
}

Test(ata, execute_device_diagnostic)
{
	issue(ATA_CMD_READ, 0x123456, 1);
	wait_not_busy();                          /* IDNF: taskfile keeps the address */
	issue(ATA_CMD_DIAGNOSE, 0x123456, 9);
	wait_not_busy();
	cr_assert_eq(R->line, 1);
	assert_signature();                       /* ERR clear: 01h is a code */
}

Test(ata, set_features_modes)
{
	uint16_t id[256];
	cr_assert_eq(nondata(ATA_CMD_SET_FEATURES, ATA_SF_WCACHE_OFF, 0), ATA_SR_DRDY | ATA_SR_DSC);
	cr_assert_eq(nondata(ATA_CMD_SET_FEATURES, ATA_SF_LOOKAHEAD_OFF, 0), ATA_SR_DRDY | ATA_SR_DSC);
	identify(id);
	cr_assert_eq(id[85] & 0x60, 0);
	write_pio(ATA_CMD_WRITE, 9, 2, 1);        /* write-through path */
	check_image(9, 2);
	cr_assert_eq(nondata(ATA_CMD_SET_FEATURES, ATA_SF_WCACHE_ON, 0), ATA_SR_DRDY | ATA_SR_DSC);
	cr_assert_eq(nondata(ATA_CMD_SET_FEATURES, ATA_SF_LOOKAHEAD_ON, 0), ATA_SR_DRDY | ATA_SR_DSC);
	identify(id);
	cr_assert_eq(id[85] & 0x60, 0x60);
	cr_assert_eq(nondata(ATA_CMD_SET_FEATURES, ATA_SF_XFER_MODE, 0x0c), ATA_SR_DRDY | ATA_SR_DSC, "PIO 4");
	cr_assert_eq(nondata(ATA_CMD_SET_FEATURES, ATA_SF_XFER_MODE, 0x01), ATA_SR_DRDY | ATA_SR_DSC);
	cr_assert_eq(nondata(ATA_CMD_SET_FEATURES, ATA_SF_XFER_MODE, 0x45), ATA_SR_DRDY | ATA_SR_ERR, "UDMA 5");
	cr_assert_eq(in(ATA_ERROR), ATA_ER_ABRT);
	cr_assert_eq(nondata(ATA_CMD_SET_FEATURES, ATA_SF_XFER_MODE, 0x0d), ATA_SR_DRDY | ATA_SR_ERR, "PIO 5");
	cr_assert_eq(nondata(ATA_CMD_SET_FEATURES, 0x99, 0), ATA_SR_DRDY | ATA_SR_ERR);
	cr_assert_eq(in(ATA_ERROR), ATA_ER_ABRT);
}

Test(ata, absent_slave)
{
	out(ATA_DEVICE, 0xb0);
	cr_assert_eq(in(ATA_STATUS), 0, "no device 1: status 0");
	cr_assert_eq(alt(), 0);
	cr_assert_eq(in(ATA_ERROR), 0);
	out(ATA_COUNT, 0x55);
	out(ATA_LBA_LO, 0xaa);
	cr_assert_eq(in(ATA_COUNT), 0x55, "the taskfile is shared");
	cr_assert_eq(in(ATA_LBA_LO), 0xaa);
	cr_assert_eq(in(ATA_DEVICE), 0xb0);
	out(ATA_COMMAND, ATA_CMD_IDENTIFY);
	advance(1000000);
	cr_assert_eq(R->rises, 0, "commands to device 1 are ignored");
	out(ATA_DEVICE, 0xa0);
	cr_assert_eq(in(ATA_STATUS), ATA_SR_DRDY | ATA_SR_DSC);
	cr_assert_eq(in(ATA_COUNT), 0x55);
}

Test(ata, soft_reset_signature_and_modes)
{
	uint16_t id[256];
	cr_assert_eq(nondata(ATA_CMD_SET_MULTIPLE, 0, 4), ATA_SR_DRDY | ATA_SR_DSC);
	cr_assert_eq(nondata(ATA_CMD_SET_FEATURES, ATA_SF_WCACHE_OFF, 0), ATA_SR_DRDY | ATA_SR_DSC);
	issue(ATA_CMD_READ_MULTIPLE, 0, 8);       /* reset aborts a transfer in flight */
	wait_not_busy();
	cr_assert_eq(R->line, 1);
	int rises = R->rises;
	out(ATA_CTRL_OFF, ATA_CTL_SRST | ATA_CTL_NIEN);
	cr_assert_eq(alt(), ATA_SR_BSY);
	cr_assert_eq(in(ATA_COUNT), ATA_SR_BSY, "taskfile reads give status");
	cr_assert_eq(R->line, 0);
	advance(10 * ATA_RESET_NS);
	cr_assert_eq(alt(), ATA_SR_BSY, "held in reset while SRST is set");
	uint64_t t0 = now();
	out(ATA_CTRL_OFF, ATA_CTL_NIEN);
	clock__run_until(&R->clk, t0 + ATA_RESET_NS - 1);
	cr_assert_eq(alt(), ATA_SR_BSY);
	clock__run_until(&R->clk, t0 + ATA_RESET_NS);
	assert_signature();
	cr_assert_eq(in(ATA_DEVICE), 0xa0);
	cr_assert_eq(inw_(), 0, "the aborted transfer is gone");
	out(ATA_CTRL_OFF, 0);
	cr_assert_eq(R->rises, rises, "no INTRQ for the reset, even with nIEN cleared");
	identify(id);
	cr_assert_eq(id[59], 0x100 | 16, "multiple back to the power-on setting");
	cr_assert(id[85] & (1 << 5), "write cache back on");
	/* SET FEATURES 66h: modes survive the next reset. */
	cr_assert_eq(nondata(ATA_CMD_SET_FEATURES, ATA_SF_REVERT_OFF, 0), ATA_SR_DRDY | ATA_SR_DSC);
	cr_assert_eq(nondata(ATA_CMD_SET_MULTIPLE, 0, 2), ATA_SR_DRDY | ATA_SR_DSC);
	out(ATA_CTRL_OFF, ATA_CTL_SRST);
	out(ATA_CTRL_OFF, 0);
	wait_not_busy();
	identify(id);
	cr_assert_eq(id[59], 0x100 | 2);
}

Test(ata, slave_selected_when_reset_starts)
{
	out(ATA_DEVICE, 0xb0);
	out(ATA_CTRL_OFF, ATA_CTL_SRST);
	cr_assert_eq(alt(), ATA_SR_BSY, "SRST selects device 0 at once");
	out(ATA_CTRL_OFF, 0);
	wait_not_busy();
	cr_assert_eq(in(ATA_STATUS), ATA_SR_DRDY | ATA_SR_DSC);
}

/* Checkpoint a transfer in flight; a fresh drive restored from it goes on
 * exactly as the original does. */
static void save_restore_at(unsigned words_before, int while_busy)
{
	static uint8_t state[16384];
	struct rig *A = &rigs[0], *B = &rigs[1];
	cr_assert_eq(nondata(ATA_CMD_SET_MULTIPLE, 0, 4), ATA_SR_DRDY | ATA_SR_DSC);
	write_pio(ATA_CMD_WRITE_MULTIPLE, 40, 10, 4);
	issue(ATA_CMD_READ_MULTIPLE, 40, 10);
	wait_not_busy();
	for (unsigned i = 0; i < words_before; i++) {
		if (i % 1024 == 0)
			wait_not_busy();
		cr_assert_eq(inw_(), pattern(40 + i / 256, i % 256));
	}
	if (while_busy)
		cr_assert(alt() & ATA_SR_BSY);
	size_t n = A->d->ops->save(A->d, state, sizeof(state));
	cr_assert(n > 0 && n <= sizeof(state));
	cr_assert_eq(A->d->ops->save(A->d, state, 10), n, "too small: size only");

	memset(B, 0, sizeof(*B));                 /* same image and time, fresh drive */
	clock__init(&B->clk);
	B->clk.now = A->clk.now;
	B->disk = A->disk;
	rig_drive(B);
	cr_assert_eq(B->d->ops->restore(B->d, state, n - 1), -EINVAL);
	cr_assert_eq(B->d->ops->restore(B->d, state, n), 0);
	cr_assert_eq(B->line, A->line, "the restored line level");
	for (int which = 0; which < 2; which++) {
		R = which ? B : A;
		R->rises = 0;
		for (unsigned i = words_before; i < 10 * 256; i++) {
			if (i % 1024 == 0 || i == words_before)
				wait_not_busy();
			cr_assert_eq(inw_(), pattern(40 + i / 256, i % 256), "drive %d word %u", which, i);
		}
		cr_assert_eq(alt(), ATA_SR_DRDY | ATA_SR_DSC);
	}
	R = A;
	cr_assert_eq(A->rises, B->rises, "same interrupts after the checkpoint");
	cr_assert_eq(A->clk.now, B->clk.now, "same timing");
	B->d->ops->destroy(B->d);
}

Test(ata, save_restore_mid_block) { save_restore_at(1024 + 300, 0); }
Test(ata, save_restore_while_busy) { save_restore_at(1024, 1); }

Test(ata, save_restore_pending_write)
{
	static uint8_t state[16384];
	issue(ATA_CMD_WRITE, 77, 1);
	wait_not_busy();
	for (unsigned w = 0; w < 256; w++)
		outw_(pattern(77, w));
	cr_assert(alt() & ATA_SR_BSY, "media write pending");
	size_t n = R->d->ops->save(R->d, state, sizeof(state));
	R->d->ops->destroy(R->d);                 /* the data lives only in the checkpoint */
	rig_drive(R);
	cr_assert_eq(R->d->ops->restore(R->d, state, n), 0);
	wait_not_busy();
	cr_assert_eq(R->line, 1);
	check_image(77, 1);
}

Test(ata, restore_rejects_garbage)
{
	static uint8_t state[16384];
	size_t n = R->d->ops->save(R->d, state, sizeof(state));
	srand(1);
	for (int i = 0; i < 2000; i++) {
		static uint8_t bad[16384];
		memcpy(bad, state, n);
		for (int k = 0; k < 4; k++)
			bad[rand() % 64] = (uint8_t)rand();
		if (R->d->ops->restore(R->d, bad, n) == 0) {
			for (int k = 0; k < 600; k++)
				R->d->ops->read(R->d, ATA_DATA, 2);
			advance(ATA_RESET_NS);
		}
	}
	cr_assert_eq(R->d->ops->restore(R->d, state, n), 0);
}

/* Random register traffic, mixed with plausible commands and data bursts so
 * that transfers are interrupted at random points: nothing may crash, hang
 * the clock or touch memory outside the model (run under SANITIZE=1). */
Test(ata, random_register_sequences)
{
	static const unsigned sizes[] = { 1, 2, 4, 8 };
	static const uint8_t cmds[] = {
		ATA_CMD_READ, ATA_CMD_WRITE, ATA_CMD_READ_MULTIPLE, ATA_CMD_WRITE_MULTIPLE,
		ATA_CMD_SET_MULTIPLE, ATA_CMD_IDENTIFY, ATA_CMD_FLUSH, ATA_CMD_DIAGNOSE,
		ATA_CMD_SET_FEATURES, 0x42,
	};
	srand(7);
	for (int i = 0; i < 100000; i++) {
		unsigned off = (unsigned)rand() % 10, size = sizes[rand() % 4];
		switch (rand() % 8) {
		case 0:
			issue(cmds[rand() % 10], (uint32_t)rand() % (DISK_SECTORS + 8), (uint8_t)rand());
			break;
		case 1:
			for (int k = rand() % 600; k > 0; k--)
				R->d->ops->read(R->d, ATA_DATA, 2);
			break;
		case 2:
			for (int k = rand() % 600; k > 0; k--)
				R->d->ops->write(R->d, ATA_DATA, 2, (uint64_t)rand());
			break;
		case 3:
			R->d->ops->write(R->d, off, size, (uint64_t)rand() << 16 | (unsigned)rand());
			break;
		default:
			R->d->ops->read(R->d, off, size);
			break;
		}
		if (rand() % 4 == 0)
			advance((uint64_t)(rand() % 100000));
	}
	out(ATA_CTRL_OFF, ATA_CTL_SRST);
	out(ATA_CTRL_OFF, 0);
	wait_not_busy();
	cr_assert_eq(in(ATA_STATUS), ATA_SR_DRDY | ATA_SR_DSC, "a reset always recovers");
}
