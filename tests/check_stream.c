/* check_stream.c: the send and receive halves of a stream, and the range
 * sets under them. */
#include "testutil.h"

#include "rangeset.h"
#include "stream.h"

/* ---- range sets ---- */

START_TEST(test_rangeset_merge)
{
	struct trst_rangeset s;
	trst_rangeset_init(&s, 0);
	ck_assert_int_eq(trst_rangeset_add(&s, 10, 20), 0);
	ck_assert_int_eq(trst_rangeset_add(&s, 30, 40), 0);
	ck_assert_int_eq(trst_rangeset_add(&s, 0, 5), 0);
	ck_assert_uint_eq(s.n, 3);
	ck_assert_int_eq(trst_rangeset_add(&s, 20, 30), 0); /* bridges two */
	ck_assert_uint_eq(s.n, 2);
	ck_assert(s.r[1].start == 10 && s.r[1].end == 40);
	ck_assert_int_eq(trst_rangeset_add(&s, 3, 12), 0); /* overlaps two */
	ck_assert_uint_eq(s.n, 1);
	ck_assert(s.r[0].start == 0 && s.r[0].end == 40);
	ck_assert(trst_rangeset_covers(&s, 0, 40));
	ck_assert(!trst_rangeset_covers(&s, 0, 41));
	ck_assert(trst_rangeset_reach(&s, 7) == 40);
	ck_assert(trst_rangeset_reach(&s, 40) == 40);
	ck_assert_int_eq(trst_rangeset_remove(&s, 10, 20), 0); /* split */
	ck_assert_uint_eq(s.n, 2);
	ck_assert(trst_rangeset_total(&s) == 30);
	ck_assert_int_eq(trst_rangeset_remove(&s, 0, 100), 0);
	ck_assert_uint_eq(s.n, 0);
	trst_rangeset_free(&s);
}
END_TEST

START_TEST(test_rangeset_random)
{
	/* Against a bitmap model. */
	struct trst_rangeset s;
	uint8_t model[512];
	uint32_t seed = 12345;
	trst_rangeset_init(&s, 0);
	memset(model, 0, sizeof model);
	for (int i = 0; i < 20000; i++) {
		seed = seed * 1103515245 + 12345;
		uint64_t a = (seed >> 8) % 512, b = a + (seed >> 20) % 24;
		if (b > 512)
			b = 512;
		if ((seed >> 4) & 1) {
			ck_assert_int_eq(trst_rangeset_add(&s, a, b), 0);
			memset(model + a, 1, b - a);
		} else {
			ck_assert_int_eq(trst_rangeset_remove(&s, a, b), 0);
			memset(model + a, 0, b - a);
		}
		if (i % 97 == 0) {
			uint64_t base = (seed >> 11) % 512;
			trst_rangeset_drop_below(&s, base);
			memset(model, 0, base);
		}
		/* sorted, disjoint, non-touching, equal to the model */
		for (size_t k = 0; k + 1 < s.n; k++)
			ck_assert(s.r[k].end < s.r[k + 1].start);
		uint64_t total = 0;
		for (int k = 0; k < 512; k++)
			total += model[k];
		ck_assert(trst_rangeset_total(&s) == total);
		for (size_t k = 0; k < s.n; k++)
			for (uint64_t v = s.r[k].start; v < s.r[k].end; v++)
				ck_assert(model[v]);
	}
	trst_rangeset_free(&s);
}
END_TEST

START_TEST(test_rangeset_cap)
{
	struct trst_rangeset s;
	trst_rangeset_init(&s, 3);
	ck_assert_int_eq(trst_rangeset_add(&s, 0, 1), 0);
	ck_assert_int_eq(trst_rangeset_add(&s, 2, 3), 0);
	ck_assert_int_eq(trst_rangeset_add(&s, 4, 5), 0);
	ck_assert_int_eq(trst_rangeset_add(&s, 6, 7), TRYST_ERR_BUFFER);
	ck_assert_uint_eq(s.n, 3);
	ck_assert_int_eq(trst_rangeset_add(&s, 1, 2), 0); /* merging is always fine */
	ck_assert_uint_eq(s.n, 2);
	uint64_t st, len;
	ck_assert_int_eq(trst_rangeset_pop_front(&s, 2, &st, &len), 0);
	ck_assert(st == 0 && len == 2);
	ck_assert_int_eq(trst_rangeset_pop_front(&s, 10, &st, &len), 0);
	ck_assert(st == 2 && len == 1);
	trst_rangeset_free(&s);
}
END_TEST

/* ---- send half ---- */

static uint8_t pattern(uint64_t off)
{
	return (uint8_t)(off * 7 + (off >> 8) * 13);
}

START_TEST(test_send_basic)
{
	struct trst_send_half s;
	uint8_t data[10000], out[10000];
	uint64_t off;
	size_t len;
	int fin, is_new;

	for (size_t i = 0; i < sizeof data; i++)
		data[i] = pattern(i);
	trst_send_init(&s, 6000, 8000);
	ck_assert_int_eq(trst_send_write(&s, data, 10000), 8000); /* buffer limit */
	ck_assert_uint_eq(trst_send_room(&s), 0);
	/* flow control: only 6000 may go out */
	ck_assert_int_eq(trst_send_next(&s, 4000, UINT64_MAX, &off, &len, &fin, &is_new), 1);
	ck_assert(off == 0 && len == 4000 && !fin && is_new);
	trst_send_copy(&s, off, len, out);
	ck_assert_mem_eq(out, data, 4000);
	trst_send_sent(&s, off, len, fin, is_new);
	ck_assert_int_eq(trst_send_next(&s, 4000, UINT64_MAX, &off, &len, &fin, &is_new), 1);
	ck_assert(off == 4000 && len == 2000);
	trst_send_sent(&s, off, len, fin, is_new);
	ck_assert_int_eq(trst_send_next(&s, 4000, UINT64_MAX, &off, &len, &fin, &is_new), 0);
	ck_assert(trst_send_blocked(&s));
	/* connection credit limits new data too */
	trst_send_max_data(&s, 100000);
	ck_assert(!trst_send_blocked(&s));
	ck_assert_int_eq(trst_send_next(&s, 4000, 500, &off, &len, &fin, &is_new), 1);
	ck_assert(off == 6000 && len == 500);
	/* acks out of order: base moves only over the contiguous prefix */
	trst_send_acked(&s, 4000, 2000, 0);
	ck_assert(s.base == 0);
	trst_send_acked(&s, 0, 4000, 0);
	ck_assert(s.base == 6000);
	ck_assert_uint_eq(trst_send_room(&s), 6000);
	/* more writes wrap the ring, data stays intact */
	ck_assert_int_eq(trst_send_write(&s, data + 8000, 2000), 2000);
	trst_send_copy(&s, 6000, 4000, out);
	ck_assert_mem_eq(out, data + 6000, 4000);
	trst_send_free(&s);
}
END_TEST

/* trst_send_span: where buffered bytes lie, only for one run with room in
 * front of it; the bytes there are the stream's. */
START_TEST(test_send_span)
{
	struct trst_send_half s;
	uint8_t data[6000];
	for (size_t i = 0; i < sizeof data; i++)
		data[i] = pattern(i);
	trst_send_init(&s, 1u << 20, 4096);
	ck_assert_ptr_null(trst_send_span(&s, 0, 0, 0)); /* nothing buffered yet */
	ck_assert_int_eq(trst_send_write(&s, data, 4096), 4096);
	size_t cap = s.ring.cap;
	ck_assert_uint_ge(cap, 4096);
	uint8_t *p = trst_send_span(&s, 100, 1000, 100);
	ck_assert_ptr_nonnull(p);
	ck_assert_mem_eq(p, data + 100, 1000);
	ck_assert_ptr_null(trst_send_span(&s, 100, 1000, 101)); /* too close to the start */
	ck_assert_ptr_nonnull(trst_send_span(&s, 0, 10, 0));
	/* acknowledge 3000 and write past the end of the ring: a run that
	 * wraps has no span, one after the wrap has */
	trst_send_acked(&s, 0, 3000, 0);
	ck_assert_int_eq(trst_send_write(&s, data + 4096, 1500), 1500);
	ck_assert_uint_eq(s.ring.cap, cap);
	ck_assert_ptr_null(trst_send_span(&s, cap - 10, 20, 0));
	p = trst_send_span(&s, cap + 8, 100, 8);
	ck_assert_ptr_nonnull(p);
	ck_assert_mem_eq(p, data + cap + 8, 100);
	trst_send_free(&s);
}
END_TEST

START_TEST(test_send_loss_and_fin)
{
	struct trst_send_half s;
	uint8_t data[3000];
	uint64_t off;
	size_t len;
	int fin, is_new;

	memset(data, 0x5a, sizeof data);
	trst_send_init(&s, UINT64_MAX, 1 << 20);
	ck_assert_int_eq(trst_send_write(&s, data, 3000), 3000);
	trst_send_finish(&s);
	ck_assert_int_eq(trst_send_write(&s, data, 1), 0); /* nothing after FIN */
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(trst_send_next(&s, 1000, UINT64_MAX, &off, &len, &fin, &is_new),
		                 1);
		ck_assert(off == (uint64_t)i * 1000 && len == 1000);
		ck_assert_int_eq(fin, i == 2);
		trst_send_sent(&s, off, len, fin, is_new);
	}
	ck_assert(!trst_send_pending(&s));
	/* the middle is acked, then everything is declared lost: only the
	 * unacked parts come back, with the FIN on the last */
	trst_send_acked(&s, 1000, 1000, 0);
	trst_send_lost(&s, 0, 1000, 0);
	trst_send_lost(&s, 1000, 1000, 0);
	trst_send_lost(&s, 2000, 1000, 1);
	ck_assert(trst_send_pending(&s));
	ck_assert_int_eq(trst_send_next(&s, 5000, 0, &off, &len, &fin, &is_new), 1);
	ck_assert(off == 0 && len == 1000 && !fin && !is_new);
	trst_send_sent(&s, off, len, fin, is_new);
	ck_assert_int_eq(trst_send_next(&s, 5000, 0, &off, &len, &fin, &is_new), 1);
	ck_assert(off == 2000 && len == 1000 && fin && !is_new);
	trst_send_sent(&s, off, len, fin, is_new);
	ck_assert_int_eq(trst_send_next(&s, 5000, 0, &off, &len, &fin, &is_new), 0);
	ck_assert(!trst_send_done(&s));
	trst_send_acked(&s, 0, 1000, 0);
	trst_send_acked(&s, 2000, 1000, 1);
	ck_assert(trst_send_done(&s));
	trst_send_free(&s);
}
END_TEST

START_TEST(test_send_bare_fin_lost)
{
	struct trst_send_half s;
	uint64_t off;
	size_t len;
	int fin, is_new;
	trst_send_init(&s, 0, 1000);
	trst_send_finish(&s);
	ck_assert_int_eq(trst_send_next(&s, 100, 0, &off, &len, &fin, &is_new), 1);
	ck_assert(off == 0 && len == 0 && fin);
	trst_send_sent(&s, off, len, fin, is_new);
	ck_assert(!trst_send_pending(&s));
	trst_send_lost(&s, 0, 0, 1);
	ck_assert(trst_send_pending(&s));
	ck_assert_int_eq(trst_send_next(&s, 100, 0, &off, &len, &fin, &is_new), 1);
	ck_assert(len == 0 && fin);
	trst_send_sent(&s, off, len, fin, is_new);
	trst_send_acked(&s, 0, 0, 1);
	ck_assert(trst_send_done(&s));
	trst_send_free(&s);
}
END_TEST

/* ---- receive half ---- */

struct sink {
	uint8_t buf[1 << 20];
	size_t len;
	int calls;
};

static void sink_fn(void *ud, const uint8_t *data, size_t len)
{
	struct sink *k = ud;
	ck_assert_uint_le(k->len + len, sizeof k->buf);
	memcpy(k->buf + k->len, data, len);
	k->len += len;
	k->calls++;
}

START_TEST(test_recv_in_order_and_gaps)
{
	static struct sink k;
	struct trst_recv_half r;
	uint8_t data[4000];
	int fin_now;
	for (size_t i = 0; i < sizeof data; i++)
		data[i] = pattern(i);
	trst_recv_init(&r, 3000);
	ck_assert_int_eq(trst_recv_frame(&r, 0, data, 1000, 0, sink_fn, &k, &fin_now), 0);
	ck_assert_uint_eq(k.len, 1000);
	ck_assert_ptr_null(r.ring.buf); /* in order: never buffered */
	ck_assert_int_eq(trst_recv_frame(&r, 2000, data + 2000, 1000, 1, sink_fn, &k, &fin_now), 0);
	ck_assert_uint_eq(k.len, 1000);
	ck_assert(!fin_now);
	/* a duplicate and a partial overlap change nothing */
	ck_assert_int_eq(trst_recv_frame(&r, 500, data + 500, 600, 0, sink_fn, &k, &fin_now), 0);
	ck_assert_uint_eq(k.len, 1100);
	ck_assert_int_eq(trst_recv_frame(&r, 1000, data + 1000, 1000, 0, sink_fn, &k, &fin_now), 0);
	ck_assert_uint_eq(k.len, 3000);
	ck_assert(fin_now);
	ck_assert_mem_eq(k.buf, data, 3000);
	trst_recv_free(&r);
}
END_TEST

START_TEST(test_recv_errors)
{
	static struct sink k;
	struct trst_recv_half r;
	uint8_t data[100] = {0};
	int fin_now;
	trst_recv_init(&r, 1000);
	ck_assert_int_eq(trst_recv_frame(&r, 990, data, 11, 0, sink_fn, &k, &fin_now),
	                 TRYST_ERR_FLOW_CONTROL);
	ck_assert_int_eq(trst_recv_frame(&r, 100, data, 50, 1, sink_fn, &k, &fin_now), 0);
	/* final size 150 is fixed now */
	ck_assert_int_eq(trst_recv_frame(&r, 140, data, 20, 0, sink_fn, &k, &fin_now),
	                 TRYST_ERR_FINAL_SIZE);
	ck_assert_int_eq(trst_recv_frame(&r, 100, data, 40, 1, sink_fn, &k, &fin_now),
	                 TRYST_ERR_FINAL_SIZE);
	ck_assert_int_eq(trst_recv_reset(&r, 151), TRYST_ERR_FINAL_SIZE);
	ck_assert_int_eq(trst_recv_reset(&r, 150), 0);
	trst_recv_free(&r);
	/* a FIN below data already received */
	trst_recv_init(&r, 1000);
	ck_assert_int_eq(trst_recv_frame(&r, 500, data, 100, 0, sink_fn, &k, &fin_now), 0);
	ck_assert_int_eq(trst_recv_frame(&r, 0, data, 100, 1, sink_fn, &k, &fin_now),
	                 TRYST_ERR_FINAL_SIZE);
	trst_recv_free(&r);
}
END_TEST

START_TEST(test_recv_window)
{
	static struct sink k;
	struct trst_recv_half r;
	uint8_t data[1000] = {0};
	int fin_now;
	trst_recv_init(&r, 1000);
	ck_assert(trst_recv_want_max_data(&r) == 0);
	ck_assert_int_eq(trst_recv_frame(&r, 0, data, 1000, 0, sink_fn, &k, &fin_now), 0);
	/* delivered but not consumed: no new credit, whatever was delivered */
	ck_assert(trst_recv_want_max_data(&r) == 0);
	trst_recv_consumed(&r, 400);
	ck_assert(trst_recv_want_max_data(&r) == 0); /* 600 still open */
	trst_recv_consumed(&r, 200);
	ck_assert(trst_recv_want_max_data(&r) == 1600);
	trst_recv_advertised(&r, 1600);
	ck_assert(trst_recv_want_max_data(&r) == 0);
	ck_assert_int_eq(trst_recv_frame(&r, 1000, data, 600, 0, sink_fn, &k, &fin_now), 0);
	ck_assert_int_eq(trst_recv_frame(&r, 1600, data, 1, 0, sink_fn, &k, &fin_now),
	                 TRYST_ERR_FLOW_CONTROL);
	trst_recv_free(&r);
}
END_TEST

START_TEST(test_transfer_random_loss_reorder)
{
	/* A sender and a receiver half with frames lost, duplicated and
	 * reordered at random: the receiver gets exactly the bytes, once, in
	 * order, and the sender frees everything. */
	static struct sink k;
	struct trst_send_half s;
	struct trst_recv_half r;
	enum { TOTAL = 600000, WINDOW = 65536 };
	static uint8_t data[TOTAL];
	struct flight {
		uint64_t off;
		size_t len;
		int fin;
	} inflight[4096];
	size_t n_inflight = 0, written = 0;
	uint32_t seed = 99;
	int done = 0, fin_now;
	uint8_t frame[1500];

	for (size_t i = 0; i < TOTAL; i++)
		data[i] = pattern(i);
	memset(&k, 0, sizeof k);
	trst_send_init(&s, WINDOW, 100000);
	trst_recv_init(&r, WINDOW);
	for (int round = 0; round < 200000 && !done; round++) {
		if (written < TOTAL) {
			long n = trst_send_write(&s, data + written, TOTAL - written);
			ck_assert_int_ge(n, 0);
			written += (size_t)n;
			if (written == TOTAL)
				trst_send_finish(&s);
		}
		uint64_t off;
		size_t len;
		int fin, is_new;
		while (n_inflight < 64 && trst_send_next(&s, 1 + (seed >> 5) % 1400, UINT64_MAX,
		                                         &off, &len, &fin, &is_new)) {
			trst_send_sent(&s, off, len, fin, is_new);
			inflight[n_inflight++] = (struct flight){off, len, fin};
			seed = seed * 1103515245 + 12345;
		}
		if (!n_inflight)
			break;
		/* deliver a random in-flight frame: lost 10 %, duplicated 5 % */
		seed = seed * 1103515245 + 12345;
		size_t i = (seed >> 8) % n_inflight;
		struct flight f = inflight[i];
		inflight[i] = inflight[--n_inflight];
		unsigned roll = (seed >> 16) % 100;
		if (roll < 10) {
			trst_send_lost(&s, f.off, f.len, f.fin);
			continue;
		}
		trst_send_copy(&s, f.off, f.len, frame);
		ck_assert_int_eq(
		    trst_recv_frame(&r, f.off, frame, f.len, f.fin, sink_fn, &k, &fin_now), 0);
		if (roll < 15)
			ck_assert_int_eq(
			    trst_recv_frame(&r, f.off, frame, f.len, f.fin, sink_fn, &k, &fin_now),
			    0);
		trst_recv_consumed(&r, k.len - r.consumed);
		uint64_t m = trst_recv_want_max_data(&r);
		if (m) {
			trst_recv_advertised(&r, m);
			trst_send_max_data(&s, m);
		}
		trst_send_acked(&s, f.off, f.len, f.fin);
		done = trst_send_done(&s);
	}
	ck_assert(done);
	ck_assert_uint_eq(k.len, TOTAL);
	ck_assert_mem_eq(k.buf, data, TOTAL);
	ck_assert(r.fin_delivered);
	ck_assert(trst_send_unacked(&s) == 0);
	/* the receive ring never outgrew the window */
	ck_assert_uint_le(r.ring.cap, WINDOW);
	trst_send_free(&s);
	trst_recv_free(&r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("stream");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_rangeset_merge);
	tcase_add_test(tc, test_rangeset_random);
	tcase_add_test(tc, test_rangeset_cap);
	tcase_add_test(tc, test_send_basic);
	tcase_add_test(tc, test_send_span);
	tcase_add_test(tc, test_send_loss_and_fin);
	tcase_add_test(tc, test_send_bare_fin_lost);
	tcase_add_test(tc, test_recv_in_order_and_gaps);
	tcase_add_test(tc, test_recv_errors);
	tcase_add_test(tc, test_recv_window);
	tcase_add_test(tc, test_transfer_random_loss_reorder);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
