/*
 * ringblk-stress: many outstanding requests on the ring device, completions
 * out of order, every byte verified.
 *
 * Arguments: depth= requests in flight (default 32, <= 256), requests=
 * (default 256), maxsect= sectors per request (default 4, <= 16), seed=
 * (default 1), irq= 1 interrupt-driven (default) or 0 polled.
 * Disk layout left behind for the host to check: request i writes
 * nsect(i) = 1 + (mix(seed, i, 0) % maxsect) sectors at LBA i*maxsect; the
 * 64-bit word k of sector lba holds (lba << 32 | k) ^ seed * 0x9e3779b97f4a7c15.
 * (The pattern is cheap on purpose: guest supervisor code may be emulated
 * instruction by instruction on nested hosts, see README.)
 * Then: read everything back and verify; error probes (LBA past the end,
 * buffer outside RAM, bad opcode) must fail with their status; a flush
 * must succeed. Out-of-order completion must have happened when depth > 1.
 */
#include "guest.h"
#include "ringblk.h"

const char *workload_name = "ringblk-stress";

#define MAX_DEPTH 256
#define MAX_SECT 16

static uint8_t pool[MAX_DEPTH][MAX_SECT * 512] __attribute__((aligned(4096)));
static struct { uint32_t req; int busy; } slot[MAX_DEPTH];
static uint64_t seed, maxsect;

/* splitmix64 over (seed, a, b): request sizes the host test regenerates. */
static uint64_t mix(uint64_t s, uint64_t a, uint64_t b)
{
	uint64_t z = s * 0x9e3779b97f4a7c15ull ^ (a << 20) ^ b;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint32_t nsect_of(uint32_t i) { return 1 + (uint32_t)(mix(seed, i, 0) % maxsect); }

static uint64_t word(uint64_t lba, uint32_t k) { return (lba << 32 | k) ^ seed * 0x9e3779b97f4a7c15ull; }

static void fill(uint64_t *w, uint64_t lba, uint32_t nsect)
{
	for (uint32_t s = 0; s < nsect; s++)
		for (uint32_t k = 0; k < 64; k++)
			w[s * 64 + k] = word(lba + s, k);
}

static int check(const uint64_t *w, uint64_t lba, uint32_t nsect)
{
	for (uint32_t s = 0; s < nsect; s++)
		for (uint32_t k = 0; k < 64; k++)
			if (w[s * 64 + k] != word(lba + s, k)) {
				printf("data mismatch at lba %lu word %u\n", lba + s, k);
				return -1;
			}
	return 0;
}

/* Runs all requests with op, depth in flight; returns out-of-order count or -1. */
static long pass(uint8_t op, uint32_t requests, uint32_t depth)
{
	uint32_t next = 0, done = 0, last_done = 0;
	long ooo = 0;
	struct ringblk_cqe c[32];
	while (done < requests) {
		for (uint32_t s = 0; s < depth && next < requests; s++) {
			if (slot[s].busy)
				continue;
			uint64_t lba = (uint64_t)next * maxsect;
			if (op == RB_OP_WRITE)
				fill((uint64_t *)pool[s], lba, nsect_of(next));
			if (rb_submit(op, (uint16_t)s, lba, nsect_of(next), (uintptr_t)pool[s]))
				break;
			slot[s].req = next++;
			slot[s].busy = 1;
		}
		int n = rb_reap(c, 32);
		if (!n && rb_wait()) {
			printf("timeout: %u of %u done\n", done, requests);
			return -1;
		}
		for (int i = 0; i < n; i++) {
			uint16_t s = c[i].id;
			if (s >= depth || !slot[s].busy || c[i].status != RB_OK) {
				printf("bad completion id %u status %u\n", s, c[i].status);
				return -1;
			}
			uint32_t req = slot[s].req;
			if (op == RB_OP_READ && check((uint64_t *)pool[s], (uint64_t)req * maxsect, nsect_of(req)))
				return -1;
			if (done && req < last_done)
				ooo++;
			last_done = req;
			slot[s].busy = 0;
			done++;
		}
	}
	return ooo;
}

/* Submits one request and returns its completion status, or -1. */
static int one(uint8_t op, uint64_t lba, uint32_t nsect, uint64_t buf)
{
	struct ringblk_cqe c;
	if (rb_submit(op, 999, lba, nsect, buf))
		return -1;
	while (!rb_reap(&c, 1))
		if (rb_wait())
			return -1;
	return c.id == 999 ? c.status : -1;
}

int workload_main(void)
{
	uint32_t depth = (uint32_t)arg_u64("depth", 32);
	uint32_t requests = (uint32_t)arg_u64("requests", 256);
	int irq = (int)arg_u64("irq", 1);
	seed = arg_u64("seed", 1);
	maxsect = arg_u64("maxsect", 4);
	GUEST_ASSERT(depth >= 1 && depth <= MAX_DEPTH);
	GUEST_ASSERT(maxsect >= 1 && maxsect <= MAX_SECT);

	uint32_t qsize = 1;
	while (qsize < depth)
		qsize <<= 1;
	if (irq)
		sti();
	if (rb_init(qsize, irq)) {
		puts("ringblk: device absent or not ready");
		return 1;
	}
	GUEST_ASSERT((uint64_t)requests * maxsect <= rb_capacity());
	long w = pass(RB_OP_WRITE, requests, depth);
	long r = w < 0 ? -1 : pass(RB_OP_READ, requests, depth);
	if (w < 0 || r < 0)
		return 1;
	printf("ringblk: %u requests x2 at depth %u, out-of-order completions %ld/%ld\n",
	       requests, depth, w, r);
	if (depth > 1 && requests > depth && (w == 0 || r == 0)) {
		puts("ringblk: completions never came out of order");
		return 1;
	}
	GUEST_ASSERT(one(RB_OP_READ, rb_capacity(), 1, (uintptr_t)pool[0]) == RB_BAD_LBA);
	GUEST_ASSERT(one(RB_OP_READ, 0, 1, 0xf0000000ull) == RB_BAD_ADDRESS);
	GUEST_ASSERT(one(9, 0, 1, (uintptr_t)pool[0]) == RB_BAD_OPCODE);
	GUEST_ASSERT(one(RB_OP_FLUSH, 0, 0, 0) == RB_OK);
	printf("ringblk: error probes ok, %lu waits\n", rb_waits());
	return 0;
}
