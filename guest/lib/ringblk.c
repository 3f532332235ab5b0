/*
 * ringblk guest driver. The submission ring is written before the doorbell
 * (x86 stores are ordered; the compiler barrier keeps the compiler honest).
 * Completions are consumed up to the device's CQ_TAIL and handed back with
 * the CQ_HEAD doorbell. Waiting is "cli; check; sti; hlt" so an interrupt
 * that lands between the check and the halt still wakes us.
 */
#include "guest.h"
#include "ringblk.h"

#define RB_REG(off) ((uintptr_t)RINGBLK_BASE + (off))
#define WAIT_BUDGET 2000000u

static struct ringblk_sqe sq[RINGBLK_MAX_QSIZE] __attribute__((aligned(4096)));
static struct ringblk_cqe cq[RINGBLK_MAX_QSIZE] __attribute__((aligned(4096)));
static uint32_t qsize, sq_tail, cq_head;
static uint64_t capacity, waits;
static int irq_mode;
static volatile uint64_t irqs;

static inline void barrier(void) { __asm__ volatile("" : : : "memory"); }

static void on_irq(int irq)
{
	(void)irq;
	irqs++;
}

int rb_init(uint32_t size, int use_irq)
{
	if (mmio_read32(RB_REG(RB_MAGIC)) != RINGBLK_MAGIC)
		return -1;
	if (!size || size > RINGBLK_MAX_QSIZE || (size & (size - 1)))
		return -1;
	mmio_write32(RB_REG(RB_CTRL), RB_CTRL_RESET);
	/* The device acts on register writes when it next runs: give it time. */
	for (int i = 0; i < 1000 && mmio_read32(RB_REG(RB_CTRL)); i++)
		io_delay();
	qsize = size;
	sq_tail = cq_head = 0;
	memset(sq, 0, sizeof(sq));
	memset(cq, 0, sizeof(cq));
	mmio_write64(RB_REG(RB_SQ_BASE), (uintptr_t)sq);
	mmio_write64(RB_REG(RB_CQ_BASE), (uintptr_t)cq);
	mmio_write32(RB_REG(RB_QSIZE), qsize);
	mmio_write32(RB_REG(RB_SQ_TAIL), 0);
	mmio_write32(RB_REG(RB_CQ_HEAD), 0);
	irq_mode = use_irq;
	if (use_irq) {
		irq_register(RINGBLK_IRQ, on_irq);
		pic_unmask(RINGBLK_IRQ);
	}
	mmio_write32(RB_REG(RB_CTRL), RB_CTRL_ENABLE | (use_irq ? RB_CTRL_IRQ_EN : 0));
	for (int i = 0; i < 1000; i++) {
		uint32_t st = mmio_read32(RB_REG(RB_STATUS));
		if (st & RB_STATUS_FATAL)
			return -1;
		if (st & RB_STATUS_READY) {
			capacity = mmio_read64(RB_REG(RB_CAPACITY));
			return 0;
		}
		io_delay();
	}
	return -1;
}

uint64_t rb_capacity(void) { return capacity; }

int rb_submit(uint8_t op, uint16_t id, uint64_t lba, uint32_t nsect, uint64_t buf)
{
	if (sq_tail - mmio_read32(RB_REG(RB_SQ_HEAD)) >= qsize)
		return -1;
	struct ringblk_sqe *e = &sq[sq_tail % qsize];
	e->opcode = op;
	e->flags = 0;
	e->id = id;
	e->nsect = nsect;
	e->lba = lba;
	e->buf = buf;
	e->reserved = 0;
	barrier();
	mmio_write32(RB_REG(RB_SQ_TAIL), ++sq_tail);
	return 0;
}

int rb_reap(struct ringblk_cqe *out, int max)
{
	uint32_t tail = mmio_read32(RB_REG(RB_CQ_TAIL));
	int n = 0;
	barrier();
	while (cq_head != tail && n < max)
		out[n++] = cq[cq_head++ % qsize];
	if (n) {
		barrier();
		mmio_write32(RB_REG(RB_CQ_HEAD), cq_head);
	}
	return n;
}

int rb_wait(void)
{
	if (waits++ > WAIT_BUDGET)
		return -1;
	if (!irq_mode) {
		io_delay();                 /* an exit: the device gets to run */
		return 0;
	}
	cli();
	uint64_t seen = irqs;
	if (mmio_read32(RB_REG(RB_CQ_TAIL)) == cq_head && irqs == seen)
		__asm__ volatile("sti; hlt" : : : "memory");
	else
		sti();
	return 0;
}

uint64_t rb_waits(void) { return waits; }
