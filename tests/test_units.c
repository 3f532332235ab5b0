/*
 * Durations need a unit; sizes and numbers are strict.
 */
#include <criterion/criterion.h>
#include "../lib/units.h"

Test(units, durations)
{
	uint64_t ns;
	cr_assert_eq(units__duration("250us", &ns), 0);
	cr_assert_eq(ns, 250000);
	cr_assert_eq(units__duration("2ms", &ns), 0);
	cr_assert_eq(ns, 2000000);
	cr_assert_eq(units__duration("3s", &ns), 0);
	cr_assert_eq(ns, 3000000000ull);
	cr_assert_eq(units__duration("7ns", &ns), 0);
	cr_assert_eq(ns, 7);
	cr_assert_neq(units__duration("100", &ns), 0, "a bare number has no unit");
	cr_assert_neq(units__duration("5min", &ns), 0);
	cr_assert_neq(units__duration("ms", &ns), 0);
	cr_assert_neq(units__duration("-1ms", &ns), 0);
	cr_assert_neq(units__duration("99999999999999999999s", &ns), 0);
}

Test(units, sizes_and_numbers)
{
	uint64_t v;
	cr_assert_eq(units__size("64M", &v), 0);
	cr_assert_eq(v, 64ull << 20);
	cr_assert_eq(units__size("1GiB", &v), 0);
	cr_assert_eq(v, 1ull << 30);
	cr_assert_eq(units__size("4096", &v), 0);
	cr_assert_eq(v, 4096);
	cr_assert_neq(units__size("12Q", &v), 0);
	cr_assert_eq(units__u64("0x10", &v), 0);
	cr_assert_eq(v, 16);
	cr_assert_neq(units__u64("12x", &v), 0);
}
