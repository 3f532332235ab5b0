/*
 * printf-family formatter: %s %c %d %i %u %x %p %%, the length modifiers
 * l, ll and z, a field width, and the '0' and '-' flags.
 *
 * One formatter writes into a sink; the sink is either a bounded buffer
 * (vsnprintf) or the console (printf), so printf needs no buffer and
 * cannot truncate.
 */
#include "guest.h"

struct sink {
	char *buf;	/* NULL: write to the console */
	size_t size;
	size_t len;	/* characters produced so far, written or not */
};

struct spec {
	int width;
	int left;	/* '-' flag */
	char pad;	/* ' ' or '0' */
};

static void emit(struct sink *s, char c)
{
	if (!s->buf)
		console_putc(c);
	else if (s->len + 1 < s->size)
		s->buf[s->len] = c;
	s->len++;
}

static void emit_pad(struct sink *s, char c, int n)
{
	while (n-- > 0)
		emit(s, c);
}

static void emit_str(struct sink *s, const struct spec *sp, const char *str)
{
	int n = (int)strlen(str);

	if (!sp->left)
		emit_pad(s, ' ', sp->width - n);
	while (*str)
		emit(s, *str++);
	if (sp->left)
		emit_pad(s, ' ', sp->width - n);
}

/* Zero padding goes between the sign and the digits, as in C. */
static void emit_num(struct sink *s, const struct spec *sp, uint64_t v, unsigned base, int neg)
{
	char digits[24];
	int n = 0;

	do {
		digits[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);

	int fill = sp->width - n - neg;

	if (!sp->left && sp->pad == ' ')
		emit_pad(s, ' ', fill);
	if (neg)
		emit(s, '-');
	if (!sp->left && sp->pad == '0')
		emit_pad(s, '0', fill);
	while (n)
		emit(s, digits[--n]);
	if (sp->left)
		emit_pad(s, ' ', fill);
}

static void format(struct sink *s, const char *fmt, va_list ap)
{
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			emit(s, *fmt);
			continue;
		}
		struct spec sp = { .pad = ' ' };
		int longs = 0;

		for (fmt++; *fmt == '0' || *fmt == '-'; fmt++) {
			if (*fmt == '-')
				sp.left = 1;
			else
				sp.pad = '0';
		}
		for (; *fmt >= '0' && *fmt <= '9'; fmt++)
			sp.width = sp.width * 10 + (*fmt - '0');
		for (; *fmt == 'l' || *fmt == 'z'; fmt++)
			longs++;

		switch (*fmt) {
		case 'd':
		case 'i': {
			int64_t v = longs ? va_arg(ap, long) : va_arg(ap, int);

			emit_num(s, &sp, v < 0 ? -(uint64_t)v : (uint64_t)v, 10, v < 0);
			break;
		}
		case 'u':
		case 'x': {
			uint64_t v = longs ? va_arg(ap, unsigned long) : va_arg(ap, unsigned int);

			emit_num(s, &sp, v, *fmt == 'u' ? 10 : 16, 0);
			break;
		}
		case 'p':
			emit(s, '0');
			emit(s, 'x');
			emit_num(s, &sp, (uintptr_t)va_arg(ap, void *), 16, 0);
			break;
		case 's': {
			const char *str = va_arg(ap, const char *);

			emit_str(s, &sp, str ? str : "(null)");
			break;
		}
		case 'c':
			emit(s, (char)va_arg(ap, int));
			break;
		case '%':
			emit(s, '%');
			break;
		case '\0':	/* lone '%' at the end */
			return;
		default:	/* unknown conversion: show it rather than guess */
			emit(s, '%');
			emit(s, *fmt);
			break;
		}
	}
}

/* Formats into buf, NUL-terminated if size > 0; returns the untruncated length. */
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct sink s = { .buf = buf, .size = size };

	format(&s, fmt, ap);
	if (size)
		buf[s.len < size ? s.len : size - 1] = '\0';
	return (int)s.len;
}

/* vsnprintf with variadic arguments. */
int snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

/* Formats straight to the console; returns the characters written. */
int printf(const char *fmt, ...)
{
	struct sink s = { 0 };
	va_list ap;

	va_start(ap, fmt);
	format(&s, fmt, ap);
	va_end(ap);
	return (int)s.len;
}

/* Writes str and a newline to the console; returns 0. */
int puts(const char *str)
{
	while (*str)
		console_putc(*str++);
	console_putc('\n');
	return 0;
}
