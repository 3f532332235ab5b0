/*
 * Multiboot v1 entry: from 32-bit protected mode to long mode, then kmain().
 *
 * The loader (QEMU -kernel or devirt run) enters _start with paging off,
 * EAX = 0x2BADB002, EBX = physical address of the Multiboot info, and an
 * undefined GDT/IDT. We load our own GDT first, zero .bss, identity-map
 * 0-4 GiB with 2 MiB pages (the 3-4 GiB MMIO hole uncached), switch to
 * long mode and call kmain(magic, info) on a 64 KiB stack in .bss.
 * There is no IDT until idt_init(): a fault before it triple-faults.
 */

#define MB_MAGIC	0x1BADB002
#define MB_FLAGS	0x3		/* bit0 align modules, bit1 memory info */

#define SEL_CODE64	0x08
#define SEL_DATA	0x10
#define SEL_CODE32	0x18

#define PTE_P		0x01
#define PTE_RW		0x02
#define PTE_PWT		0x08
#define PTE_PCD		0x10
#define PTE_PS		0x80		/* 2 MiB page in a page directory */
#define MMIO_FIRST_PDE	1536		/* 3 GiB / 2 MiB */

#define CR0_PE		(1 << 0)
#define CR0_PG		(1 << 31)
#define CR4_PAE		(1 << 5)
#define MSR_EFER	0xC0000080
#define EFER_LME	(1 << 8)

#define EXIT_PORT	0xf4
#define EXIT_FAIL	0x11

	.section .multiboot, "a"
	.align 4
	.long MB_MAGIC
	.long MB_FLAGS
	.long -(MB_MAGIC + MB_FLAGS)

	.text
	.code32
	.globl _start
_start:
	/* Keep magic in EBP and info in EBX: nothing below touches them. */
	movl	%eax, %ebp
	lgdt	gdt_ptr
	ljmp	$SEL_CODE32, $1f
1:	movl	$SEL_DATA, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	movl	$stack_top, %esp
	cld

	/* Zero .bss: the page tables below rely on it, and not every loader does it. */
	movl	$__bss_start, %edi
	movl	$__bss_end, %ecx
	subl	%edi, %ecx
	shrl	$2, %ecx
	xorl	%eax, %eax
	rep stosl

	/* PML4[0] -> PDPT; PDPT[0..3] -> the four page directories. */
	movl	$pdpt + (PTE_P | PTE_RW), pml4
	movl	$pd + (PTE_P | PTE_RW), %eax
	xorl	%ecx, %ecx
2:	movl	%eax, pdpt(, %ecx, 8)
	addl	$4096, %eax
	incl	%ecx
	cmpl	$4, %ecx
	jb	2b

	/* 2048 PDEs of 2 MiB each; upper halves stay zero from the .bss clear. */
	xorl	%ecx, %ecx
3:	movl	%ecx, %eax
	shll	$21, %eax
	orl	$(PTE_P | PTE_RW | PTE_PS), %eax
	cmpl	$MMIO_FIRST_PDE, %ecx
	jb	4f
	orl	$(PTE_PCD | PTE_PWT), %eax
4:	movl	%eax, pd(, %ecx, 8)
	incl	%ecx
	cmpl	$2048, %ecx
	jb	3b

	/* PAE, CR3, EFER.LME, then paging on: we are in compatibility mode. */
	movl	%cr4, %eax
	orl	$CR4_PAE, %eax
	movl	%eax, %cr4
	movl	$pml4, %eax
	movl	%eax, %cr3
	movl	$MSR_EFER, %ecx
	rdmsr
	orl	$EFER_LME, %eax
	wrmsr
	movl	%cr0, %eax
	orl	$(CR0_PG | CR0_PE), %eax
	movl	%eax, %cr0
	ljmp	$SEL_CODE64, $long_mode

	.code64
long_mode:
	movl	$SEL_DATA, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	movl	%eax, %fs
	movl	%eax, %gs
	movq	$stack_top, %rsp
	movl	%ebp, %edi		/* kmain(magic, info) */
	movl	%ebx, %esi
	call	kmain

	/* kmain never returns; if it does, that is a failure. */
	movl	$EXIT_FAIL, %eax
	movw	$EXIT_PORT, %dx
	outl	%eax, %dx
5:	cli
	hlt
	jmp	5b

	/*
	 * Flat GDT. Accessed bits are preset so the CPU never writes to it.
	 * The 32-bit code segment is only used until the jump to long mode.
	 */
	.section .rodata
	.align 16
gdt:
	.quad 0
	.quad 0x00AF9B000000FFFF	/* 0x08: 64-bit code, DPL 0 */
	.quad 0x00CF93000000FFFF	/* 0x10: flat 4 GiB data */
	.quad 0x00CF9B000000FFFF	/* 0x18: flat 4 GiB 32-bit code */
gdt_end:
gdt_ptr:
	.word gdt_end - gdt - 1
	.long gdt

	.section .bss
	.align 4096
pml4:	.skip 4096
pdpt:	.skip 4096
pd:	.skip 4 * 4096
	.align 16			/* the one stack: 64 KiB below stack_top */
	.skip 65536
stack_top:

	/* No executable stack wanted; tells ld so and silences its warning. */
	.section .note.GNU-stack, "", @progbits
