/* check_rxpool.c: the pool that lends received stream data to evbuffers
 * (src/rxpool.h): bytes arrive intact and in order, blocks come back when
 * drained and are reused, big pieces take the plain path, and a released
 * pool lives until the last lent block comes back (ASan/LSan and valgrind
 * see a leak or a use after free otherwise). */
#include "testutil.h"

#include <event2/buffer.h>

#include "rxpool.h"

static void fill(uint8_t *p, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)((seed + i) * 2654435761u >> 24);
}

START_TEST(test_bytes_intact)
{
	static uint8_t src[300000], out[300000];
	static const size_t sizes[] = {1, 1000, 4095, 4096, 4097, 100, 16384, 3, 4096};
	struct trst_rxpool *p;
	struct evbuffer *buf = evbuffer_new();
	ck_assert_int_eq(trst_rxpool_new(4096, 4, &p), 0);
	fill(src, sizeof src, 1);
	size_t at = 0;
	for (int round = 0; round < 8; round++)
		for (size_t i = 0; i < TRST_ARRAY_LEN(sizes); i++) {
			ck_assert_int_eq(trst_rxpool_add(p, buf, src + at, sizes[i]), 0);
			at += sizes[i];
		}
	ck_assert_uint_eq(evbuffer_get_length(buf), at);
	ck_assert_int_eq(evbuffer_remove(buf, out, at), (int)at);
	ck_assert_mem_eq(out, src, at);
	/* all drained: only the block being filled and the idle ones remain */
	ck_assert_uint_le(trst_rxpool_live(p), 1 + 4);
	ck_assert_int_eq(trst_rxpool_add(p, buf, src, 0), 0);
	ck_assert_uint_eq(evbuffer_get_length(buf), 0);
	trst_rxpool_release(p);
	evbuffer_free(buf);
	ck_assert_int_eq(trst_rxpool_new(0, 4, &p), TRYST_ERR_INVALID);
}
END_TEST

/* Steady state (add, drain, add...) reuses the same few blocks. */
START_TEST(test_blocks_reused)
{
	static uint8_t src[16384], out[16384];
	struct trst_rxpool *p;
	struct evbuffer *buf = evbuffer_new();
	ck_assert_int_eq(trst_rxpool_new(65536, 8, &p), 0);
	fill(src, sizeof src, 2);
	for (int i = 0; i < 10000; i++) {
		ck_assert_int_eq(trst_rxpool_add(p, buf, src, sizeof src), 0);
		if (evbuffer_get_length(buf) >= 4 * sizeof src) {
			/* drain in odd pieces: a chain may be split */
			while (evbuffer_get_length(buf)) {
				int n = evbuffer_remove(buf, out, 5000);
				ck_assert_int_gt(n, 0);
			}
		}
	}
	ck_assert_uint_le(trst_rxpool_live(p), 3);
	trst_rxpool_release(p);
	evbuffer_free(buf);
}
END_TEST

/* Released while evbuffers still point into it: the data stays valid and
 * the pool goes away with the last chain. */
START_TEST(test_release_with_lent_blocks)
{
	static uint8_t src[50000], out[50000];
	struct trst_rxpool *p;
	struct evbuffer *a = evbuffer_new(), *b = evbuffer_new();
	ck_assert_int_eq(trst_rxpool_new(8192, 2, &p), 0);
	fill(src, sizeof src, 3);
	for (size_t at = 0; at < sizeof src; at += 1000) {
		ck_assert_int_eq(trst_rxpool_add(p, (at / 1000) % 2 ? a : b, src + at, 1000), 0);
	}
	trst_rxpool_release(p);
	/* moving chains between evbuffers keeps the references */
	struct evbuffer *c = evbuffer_new();
	evbuffer_add_buffer(c, a);
	evbuffer_free(b); /* frees half the chains */
	ck_assert_int_eq(evbuffer_remove(c, out, sizeof out), 25000);
	for (size_t k = 0; k < 25; k++)
		ck_assert_mem_eq(out + k * 1000, src + (2 * k + 1) * 1000, 1000);
	evbuffer_free(a);
	evbuffer_free(c);
	trst_rxpool_release(NULL);
}
END_TEST

/* Bytes opened into the scratch room are lent where they lie (the
 * evbuffer points at them); bytes from elsewhere added meanwhile are
 * copied past the room, never into it. */
START_TEST(test_scratch_in_place)
{
	static uint8_t other[3000], out[20000];
	struct trst_rxpool *p;
	struct evbuffer *buf = evbuffer_new();
	ck_assert_int_eq(trst_rxpool_new(16384, 2, &p), 0);
	fill(other, sizeof other, 4);
	for (int round = 0; round < 50; round++) {
		uint8_t *room = trst_rxpool_scratch(p, 9000);
		ck_assert_ptr_nonnull(room);
		fill(room, 9000, (uint32_t)round);
		uint8_t expect[9000];
		memcpy(expect, room, sizeof expect);
		/* a "packet": 20 header bytes, 4000 data, 5 header, 3000 data */
		ck_assert_int_eq(trst_rxpool_add(p, buf, room + 20, 4000), 0);
		/* data from elsewhere (a reassembly ring) in between */
		ck_assert_int_eq(trst_rxpool_add(p, buf, other, sizeof other), 0);
		ck_assert_int_eq(trst_rxpool_add(p, buf, room + 4025, 3000), 0);
		/* bytes already lent are not lent twice: copied instead */
		ck_assert_int_eq(trst_rxpool_add(p, buf, room + 20, 10), 0);
		trst_rxpool_scratch_done(p);
		ck_assert_mem_eq(room, expect, sizeof expect); /* the room untouched */
		struct evbuffer_iovec v[8];
		int nv = evbuffer_peek(buf, -1, NULL, v, 8);
		ck_assert_int_eq(nv, 4);
		ck_assert_ptr_eq(v[0].iov_base, room + 20);
		ck_assert_ptr_eq(v[2].iov_base, room + 4025);
		ck_assert_ptr_ne(v[1].iov_base, other);
		ck_assert_ptr_ne(v[3].iov_base, room + 20);
		size_t n = evbuffer_get_length(buf);
		ck_assert_uint_eq(n, 4000 + sizeof other + 3000 + 10);
		ck_assert_int_eq(evbuffer_remove(buf, out, n), (int)n);
		ck_assert_mem_eq(out, expect + 20, 4000);
		ck_assert_mem_eq(out + 4000, other, sizeof other);
		ck_assert_mem_eq(out + 4000 + sizeof other, expect + 4025, 3000);
		ck_assert_mem_eq(out + 7000 + sizeof other, expect + 20, 10);
	}
	ck_assert_uint_le(trst_rxpool_live(p), 1 + 2 + 1);
	ck_assert_ptr_null(trst_rxpool_scratch(p, 16385)); /* bigger than a block */
	trst_rxpool_scratch_done(p);
	trst_rxpool_release(p);
	evbuffer_free(buf);
}
END_TEST

/* A scratch room still open when its block stops being current, or when
 * the pool is released: it stays valid until done. */
START_TEST(test_scratch_block_kept)
{
	static uint8_t big[4000];
	struct trst_rxpool *p;
	struct evbuffer *buf = evbuffer_new();
	ck_assert_int_eq(trst_rxpool_new(8192, 0, &p), 0);
	uint8_t *room = trst_rxpool_scratch(p, 6000);
	memset(room, 0x77, 6000);
	/* copies no longer fit behind the room: a new block becomes current */
	ck_assert_int_eq(trst_rxpool_add(p, buf, big, sizeof big), 0);
	ck_assert_int_eq(trst_rxpool_add(p, buf, room + 100, 1000), 0);
	evbuffer_drain(buf, evbuffer_get_length(buf));
	for (int i = 0; i < 6000; i++)
		ck_assert_uint_eq(room[i], 0x77);
	trst_rxpool_scratch_done(p);
	room = trst_rxpool_scratch(p, 100);
	ck_assert_ptr_nonnull(room);
	trst_rxpool_release(p); /* ends the scratch too; nothing leaks */
	evbuffer_free(buf);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("rxpool");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_bytes_intact);
	tcase_add_test(tc, test_blocks_reused);
	tcase_add_test(tc, test_release_with_lent_blocks);
	tcase_add_test(tc, test_scratch_in_place);
	tcase_add_test(tc, test_scratch_block_kept);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
