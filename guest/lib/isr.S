/*
 * Interrupt entry stubs for vectors 0-47 and their common path.
 *
 * Each stub pushes a dummy error code when the CPU does not push one, then
 * its vector, so every frame has the same shape (struct isr_frame in
 * idt.c). The common path saves all general-purpose registers, calls
 * isr_dispatch(frame) and returns with iretq. The CPU aligns RSP to 16
 * before pushing its 5-quad frame; error code, vector and 15 registers
 * bring the total to 22 quads, so RSP is 16-aligned at the call.
 */

/* Vectors for which the CPU pushes an error code: 8, 10-14, 17, 21, 29, 30. */
#define ERRCODE_VECTORS	0x60227d00

	.text
	.macro	isr_stub vec
isr_stub_\vec:
	.if ((ERRCODE_VECTORS >> \vec) & 1) == 0
	pushq	$0
	.endif
	pushq	$\vec
	jmp	isr_common
	.endm

	.macro	isr_addr vec
	.quad	isr_stub_\vec
	.endm

	.altmacro
	.set	vec, 0
	.rept	48
	isr_stub %vec
	.set	vec, vec + 1
	.endr

isr_common:
	pushq	%rax
	pushq	%rbx
	pushq	%rcx
	pushq	%rdx
	pushq	%rsi
	pushq	%rdi
	pushq	%rbp
	pushq	%r8
	pushq	%r9
	pushq	%r10
	pushq	%r11
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	movq	%rsp, %rdi
	cld
	call	isr_dispatch
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%r11
	popq	%r10
	popq	%r9
	popq	%r8
	popq	%rbp
	popq	%rdi
	popq	%rsi
	popq	%rdx
	popq	%rcx
	popq	%rbx
	popq	%rax
	addq	$16, %rsp		/* vector and error code */
	iretq

	/* isr_stubs[v] is the entry point of vector v, read by idt_init(). */
	.section .rodata
	.align	8
	.globl	isr_stubs
isr_stubs:
	.set	vec, 0
	.rept	48
	isr_addr %vec
	.set	vec, vec + 1
	.endr
	.noaltmacro

	/* No executable stack wanted; tells ld so and silences its warning. */
	.section .note.GNU-stack, "", @progbits
