/*
 * Engine core: the trigger vocabulary, DEVIRT_BUG names, and requests for
 * devices that are not there. The per-device switching tests are in
 * test_engine_{ata,uart,ringblk}.c; whole-guest runs in test_switch.c.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include "eharness.h"

Test(engine, parses_triggers)
{
	struct eng_trigger t;
	char err[200];
	cr_assert_eq(engine__parse_trigger("every=97:roundtrip:all", &t, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(t.when, EW_EVERY);
	cr_assert_eq(t.arg, 97);
	cr_assert_eq(t.action, EA_ROUNDTRIP);
	cr_assert_str_eq(t.device, "all");
	cr_assert_eq(engine__parse_trigger("vtime=2ms:virtualize:ata", &t, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(t.when, EW_VTIME);
	cr_assert_eq(t.arg, 2000000);
	cr_assert_eq(engine__parse_trigger("seq=1234:devirtualize:uart", &t, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(t.arg, 1234);
	cr_assert_str_eq(t.device, "com1", "uart is COM1");
	cr_assert_eq(engine__parse_trigger("seq=0x10:virtualize:ringblk", &t, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(t.arg, 16);
}

Test(engine, rejects_bad_triggers_with_a_reason)
{
	struct eng_trigger t;
	char err[200];
	static const struct { const char *spec, *says; } bad[] = {
		{ "every=0:roundtrip:all", "bad every" },
		{ "vtime=2:virtualize:ata", "needs a unit" },
		{ "when=3:virtualize:ata", "unknown WHEN" },
		{ "seq=3:explode:ata", "unknown action" },
		{ "seq=3:virtualize:nic", "unknown device" },
		{ "seq=3:virtualize", "WHEN:ACTION:DEVICE" },
		{ "seq=3:virtualize:ata:x", "WHEN:ACTION:DEVICE" },
		{ "seq:virtualize:ata", "seq=N" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		cr_assert_eq(engine__parse_trigger(bad[i].spec, &t, err, sizeof(err)), -EINVAL, "%s", bad[i].spec);
		cr_assert(strstr(err, bad[i].says), "%s: '%s' lacks '%s'", bad[i].spec, err, bad[i].says);
	}
}

Test(engine, bug_names)
{
	cr_assert_eq(engine__parse_bug(NULL), BUG_NONE);
	cr_assert_eq(engine__parse_bug(""), BUG_NONE);
	cr_assert_eq(engine__parse_bug("replay-twice"), BUG_REPLAY_TWICE);
	cr_assert_eq(engine__parse_bug("skip-drain"), BUG_SKIP_DRAIN);
	cr_assert_eq(engine__parse_bug("nonsense"), -EINVAL);
}

Test(engine, absent_devices_are_refused)
{
	struct eh h;
	eh_init(&h, &(struct eh_cfg){ .ata = 0, .ringblk = 0 });
	cr_assert_eq(engine__request(h.e, "ata", EA_VIRTUALIZE), -ENOENT);
	cr_assert_eq(engine__request(h.e, "nic", EA_VIRTUALIZE), -ENOENT);
	cr_assert_eq(engine__state(h.e, "ringblk"), -ENOENT);
	eh_fini(&h);
}
