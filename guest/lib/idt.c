/*
 * The 64-bit IDT and the C side of interrupt dispatch.
 *
 * Vectors 0-31 are CPU exceptions: the guest prints what happened and fails
 * with GUEST_EXIT_EXCEPTION, since none of our workloads expects one.
 * Vectors 32-47 are IRQ 0-15 (pic_init() remaps the 8259A there): the
 * registered handler runs, then the IRQ is acknowledged. Vectors 48-255
 * are not present, so a stray one shows up as a #NP exception.
 */
#include "guest.h"

#define IDT_VECTORS	256
#define STUB_VECTORS	48
#define IRQ_BASE	32
#define IRQ_LINES	16
#define GATE_INTR	0x8e	/* present, DPL 0, 64-bit interrupt gate (IF cleared) */

/* Layout pushed by isr.S: registers, then vector and error code, then the CPU's frame. */
struct isr_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss;
};

struct idt_gate {
	uint16_t offset_lo;
	uint16_t selector;
	uint8_t ist;
	uint8_t type;
	uint16_t offset_mid;
	uint32_t offset_hi;
	uint32_t reserved;
} __attribute__((packed));

extern const uint64_t isr_stubs[STUB_VECTORS];
void isr_dispatch(struct isr_frame *f);

static struct idt_gate idt[IDT_VECTORS] __attribute__((aligned(16)));
static void (*irq_handlers[IRQ_LINES])(int irq);
static volatile uint64_t spurious;

static const char *const exception_names[32] = {
	"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM",
	"#DF", "CSO", "#TS", "#NP", "#SS", "#GP", "#PF", "RSV15",
	"#MF", "#AC", "#MC", "#XM", "#VE", "#CP", "RSV22", "RSV23",
	"RSV24", "RSV25", "RSV26", "RSV27", "#HV", "#VC", "#SX", "RSV31",
};

/* Gates use the code selector we run on, so the GDT layout lives only in boot.S. */
void idt_init(void)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) idtr = { sizeof(idt) - 1, (uintptr_t)idt };
	uint16_t cs;

	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	for (int v = 0; v < STUB_VECTORS; v++) {
		uint64_t addr = isr_stubs[v];

		idt[v] = (struct idt_gate){
			.offset_lo = (uint16_t)addr,
			.selector = cs,
			.type = GATE_INTR,
			.offset_mid = (uint16_t)(addr >> 16),
			.offset_hi = (uint32_t)(addr >> 32),
		};
	}
	__asm__ volatile("lidt %0" : : "m"(idtr));
}

/* Installs fn for IRQ irq (0-15); NULL makes the IRQ spurious again. */
void irq_register(int irq, void (*fn)(int irq))
{
	GUEST_ASSERT(irq >= 0 && irq < IRQ_LINES);
	irq_handlers[irq] = fn;
}

/* Returns the count of IRQs that arrived without a registered handler. */
uint64_t irq_spurious_count(void)
{
	return spurious;
}

__attribute__((noreturn)) static void exception(const struct isr_frame *f)
{
	static int nested;

	/* A fault while reporting a fault: just give the verdict. */
	if (nested++)
		guest_fail(GUEST_EXIT_EXCEPTION);
	printf("EXCEPTION %s vec=%lu err=0x%lx rip=0x%lx cr2=0x%lx\n",
	       exception_names[f->vector], f->vector, f->error, f->rip, read_cr2());
	guest_fail(GUEST_EXIT_EXCEPTION);
}

/* Called by isr.S with interrupts off, for every vector 0-47. */
void isr_dispatch(struct isr_frame *f)
{
	if (f->vector < IRQ_BASE)
		exception(f);

	int irq = (int)(f->vector - IRQ_BASE);

	if (irq_handlers[irq])
		irq_handlers[irq](irq);
	else
		spurious++;
	pic_eoi(irq);
}
