/*
 * check_conn.c: two connections over a simulated link with a fake clock:
 * loss, delay, jitter (reordering), duplication, corruption, rate limits
 * and asymmetric paths.  Every byte of every stream must arrive exactly;
 * the fake clock makes each run deterministic and fast.
 */
#include "testutil.h"
#include "vectors.h"

#include "cc.h"
#include "conn.h"
#include "frame.h"
#include "packet.h"

/* ---- deterministic randomness ---- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1Dull;
}

static double rnd01(void)
{
	return (double)(rnd() >> 11) / (double)(1ull << 53);
}

/* Byte `off` of stream `k`'s content: cheap, position-dependent. */
static void content(uint64_t k, uint64_t off, uint8_t *out, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		uint64_t o = off + i;
		out[i] = (uint8_t)((o * 0x9E3779B1u) >> 13 ^ (k * 131) ^ (o >> 17));
	}
}

/* ---- the simulated link ---- */

#define MAX_PKT 1500

struct pkt {
	uint64_t at;
	size_t len;
	struct pkt *next;
	uint8_t data[MAX_PKT];
};

struct link {
	double loss, dup, corrupt;
	uint64_t delay, jitter; /* µs */
	uint64_t rate;          /* bytes per second, 0: unlimited */
	uint64_t queue;         /* bytes the bottleneck queue holds */
	uint64_t busy_until;
	struct pkt *head; /* sorted by arrival time */
	uint64_t sent, dropped, delivered;
	int blackhole;
};

static void link_insert(struct link *l, struct pkt *p)
{
	struct pkt **pp = &l->head;
	while (*pp && (*pp)->at <= p->at)
		pp = &(*pp)->next;
	p->next = *pp;
	*pp = p;
}

static void link_send(struct link *l, const uint8_t *data, size_t len, uint64_t now)
{
	ck_assert_uint_le(len, MAX_PKT);
	l->sent++;
	if (l->blackhole || rnd01() < l->loss) {
		l->dropped++;
		return;
	}
	uint64_t depart = now;
	if (l->rate) {
		uint64_t start = l->busy_until > now ? l->busy_until : now;
		/* Tail drop when the bottleneck queue is full. */
		if ((start - now) * l->rate / 1000000 > l->queue) {
			l->dropped++;
			return;
		}
		depart = start + len * 1000000 / l->rate;
		l->busy_until = depart;
	}
	int copies = rnd01() < l->dup ? 2 : 1;
	for (int i = 0; i < copies; i++) {
		struct pkt *p = malloc(sizeof *p);
		ck_assert_ptr_nonnull(p);
		memcpy(p->data, data, len);
		p->len = len;
		p->at = depart + l->delay + (l->jitter ? rnd() % l->jitter : 0) + (uint64_t)i * 100;
		if (rnd01() < l->corrupt)
			p->data[rnd() % len] ^= (uint8_t)(1u << (rnd() % 8));
		link_insert(l, p);
	}
}

static void link_free(struct link *l)
{
	while (l->head) {
		struct pkt *p = l->head;
		l->head = p->next;
		free(p);
	}
}

/* ---- endpoints ---- */

#define MAX_STREAMS 1100

struct rx_stream {
	uint64_t received;
	int fin, reset;
};

struct tx_stream {
	struct trst_cstream *s;
	uint64_t written, total;
	int finished;
};

struct end {
	struct trst_conn *c;
	int closed, close_err;
	/* receiving */
	struct rx_stream rx[MAX_STREAMS];
	int n_fin;
	int slow;            /* do not consume delivered data */
	uint64_t unconsumed; /* delivered but not consumed */
	struct trst_cstream *rxs[MAX_STREAMS];
	/* sending */
	struct tx_stream tx[MAX_STREAMS];
	int n_tx;
	uint64_t datagrams;
};

static struct end A, B;

static void cb_opened(void *ud, struct trst_cstream *s)
{
	struct end *e = ud;
	uint64_t k = trst_cstream_id(s) >> 1;
	ck_assert_uint_lt(k, MAX_STREAMS);
	e->rxs[k] = s;
}

static void cb_data(void *ud, struct trst_cstream *s, const uint8_t *data, size_t len)
{
	struct end *e = ud;
	uint64_t k = trst_cstream_id(s) >> 1;
	uint8_t want[MAX_PKT * 4];
	ck_assert_uint_lt(k, MAX_STREAMS);
	/* delivered in order, exactly the bytes written */
	for (size_t done = 0; done < len;) {
		size_t n = len - done < sizeof want ? len - done : sizeof want;
		content(k, e->rx[k].received + done, want, n);
		ck_assert_msg(memcmp(want, data + done, n) == 0, "stream %llu corrupt at %llu",
		              (unsigned long long)k,
		              (unsigned long long)(e->rx[k].received + done));
		done += n;
	}
	e->rx[k].received += len;
	if (e->slow)
		e->unconsumed += len;
	else
		trst_conn_stream_consumed(s, len);
}

static void cb_fin(void *ud, struct trst_cstream *s)
{
	struct end *e = ud;
	e->rx[trst_cstream_id(s) >> 1].fin = 1;
	e->n_fin++;
	if (!e->slow)
		trst_conn_stream_release(s);
}

static void cb_reset(void *ud, struct trst_cstream *s, uint64_t code)
{
	struct end *e = ud;
	(void)code;
	e->rx[trst_cstream_id(s) >> 1].reset = 1;
	trst_conn_stream_release(s);
}

static void cb_closed(void *ud, int err, uint64_t code, const uint8_t *reason, size_t rlen)
{
	struct end *e = ud;
	(void)code;
	(void)reason;
	(void)rlen;
	e->closed = 1;
	e->close_err = err;
}

static void cb_datagram(void *ud, const uint8_t *data, size_t len)
{
	struct end *e = ud;
	(void)data;
	(void)len;
	e->datagrams++;
}

static const struct trst_conn_callbacks cbs = {
    .stream_opened = cb_opened,
    .stream_data = cb_data,
    .stream_fin = cb_fin,
    .stream_reset = cb_reset,
    .closed = cb_closed,
    .datagram = cb_datagram,
};

static struct link ab, ba; /* A to B, B to A */
static uint64_t now;

static void make_pair(int cc, struct trst_conn_config *cfg_in)
{
	struct trst_conn_config cfg;
	struct trst_tparams tp;
	struct trst_conn_keys ka, kb;
	uint8_t ka_key[32], kb_key[32];
	struct sockaddr_storage addr;

	memset(&A, 0, sizeof A);
	memset(&B, 0, sizeof B);
	memset(&ab, 0, sizeof ab);
	memset(&ba, 0, sizeof ba);
	now = 1000000;
	rng_state = 0x1234567887654321ull;
	if (cfg_in)
		cfg = *cfg_in;
	else
		trst_conn_config_default(&cfg);
	cfg.cc = cc;
	trst_conn_config_tparams(&cfg, &tp);
	memset(&ka, 0, sizeof ka);
	ka.aead = trst_aead_local_best();
	memset(ka.send_secret, 1, 32);
	memset(ka.recv_secret, 2, 32);
	ka.local_index = 11;
	ka.remote_index = 22;
	kb = ka;
	memcpy(kb.send_secret, ka.recv_secret, 32);
	memcpy(kb.recv_secret, ka.send_secret, 32);
	kb.local_index = 22;
	kb.remote_index = 11;
	memset(ka_key, 0xaa, 32);
	memset(kb_key, 0xbb, 32);
	tu_addr(&addr, "192.0.2.1", 1000);
	ck_assert_int_eq(trst_conn_new(&cfg, TRST_ROLE_INITIATOR, &ka, kb_key, &tp,
	                               (struct sockaddr *)&addr, sizeof(struct sockaddr_in), &cbs,
	                               &A, now, &A.c),
	                 0);
	tu_addr(&addr, "192.0.2.2", 2000);
	ck_assert_int_eq(trst_conn_new(&cfg, TRST_ROLE_RESPONDER, &kb, ka_key, &tp,
	                               (struct sockaddr *)&addr, sizeof(struct sockaddr_in), &cbs,
	                               &B, now, &B.c),
	                 0);
}

static void free_pair(void)
{
	trst_conn_free(A.c);
	trst_conn_free(B.c);
	link_free(&ab);
	link_free(&ba);
}

/* A opens n streams of `each` bytes. */
static void open_streams(int n, uint64_t each)
{
	for (int i = 0; i < n; i++) {
		ck_assert_int_eq(trst_conn_stream_open(A.c, &A.tx[i].s), 0);
		ck_assert_uint_eq(trst_cstream_id(A.tx[i].s), (uint64_t)i * 2);
		A.tx[i].total = each;
	}
	A.n_tx = n;
}

static void pump_writes(struct end *e)
{
	uint8_t buf[16384];
	for (int i = 0; i < e->n_tx; i++) {
		struct tx_stream *t = &e->tx[i];
		while (t->written < t->total) {
			size_t room = trst_conn_stream_room(t->s);
			if (!room)
				break;
			size_t n = t->total - t->written;
			if (n > room)
				n = room;
			if (n > sizeof buf)
				n = sizeof buf;
			content((uint64_t)i, t->written, buf, n);
			long k = trst_conn_stream_write(t->s, buf, n);
			ck_assert_int_ge(k, 0);
			if (!k)
				break;
			t->written += (uint64_t)k;
		}
		if (t->written == t->total && !t->finished) {
			ck_assert_int_eq(trst_conn_stream_finish(t->s), 0);
			t->finished = 1;
		}
	}
}

static void deliver(struct link *l, struct end *to)
{
	while (l->head && l->head->at <= now) {
		struct pkt *p = l->head;
		l->head = p->next;
		l->delivered++;
		(void)trst_conn_recv(to->c, p->data, p->len, NULL, 0, now);
		free(p);
	}
}

static void send_all(struct end *from, struct link *l)
{
	uint8_t buf[MAX_PKT];
	size_t n;
	int guard = 0;
	while ((n = trst_conn_write(from->c, buf, sizeof buf, now)) > 0) {
		link_send(l, buf, n, now);
		ck_assert_int_lt(++guard, 100000);
	}
}

/* Run until `done` says so or `limit_us` of simulated time passed.
 * Returns the simulated time taken. */
static uint64_t run(int (*done)(void), uint64_t limit_us)
{
	uint64_t start = now;
	while (!done() && now - start < limit_us) {
		deliver(&ab, &B);
		deliver(&ba, &A);
		if (trst_conn_deadline(A.c) <= now)
			trst_conn_timeout(A.c, now);
		if (trst_conn_deadline(B.c) <= now)
			trst_conn_timeout(B.c, now);
		pump_writes(&A);
		send_all(&A, &ab);
		send_all(&B, &ba);
		uint64_t next = UINT64_MAX;
		uint64_t t[4] = {trst_conn_deadline(A.c), trst_conn_deadline(B.c),
		                 ab.head ? ab.head->at : UINT64_MAX,
		                 ba.head ? ba.head->at : UINT64_MAX};
		for (int i = 0; i < 4; i++)
			if (t[i] < next)
				next = t[i];
		if (next == UINT64_MAX)
			break;
		now = next > now ? next : now + 1;
	}
	return now - start;
}

static int all_received(void)
{
	for (int i = 0; i < A.n_tx; i++)
		if (!B.rx[i].fin)
			return 0;
	return 1;
}

static void check_all_received(void)
{
	for (int i = 0; i < A.n_tx; i++) {
		ck_assert_msg(B.rx[i].fin, "stream %d not finished (%llu of %llu bytes)", i,
		              (unsigned long long)B.rx[i].received,
		              (unsigned long long)A.tx[i].total);
		ck_assert(B.rx[i].received == A.tx[i].total);
	}
}

/* ---- transfer matrix ---- */

struct scenario {
	const char *name;
	int cc;
	double loss, dup, corrupt;
	uint64_t delay_ms, jitter_ms, rate_mbit;
	double back_loss; /* the other direction's, -1: same as forward */
	uint64_t mib;
	int streams;
};

static const struct scenario matrix[] = {
    {"clean", TRST_CC_CUBIC, 0, 0, 0, 0, 0, 0, -1, 64, 4},
    {"clean bbr", TRST_CC_BBR, 0, 0, 0, 5, 0, 0, -1, 64, 4},
    {"1% loss 20ms 100Mbit", TRST_CC_CUBIC, 0.01, 0, 0, 10, 0, 100, -1, 64, 4},
    {"5% loss bbr", TRST_CC_BBR, 0.05, 0, 0, 10, 0, 100, -1, 64, 8},
    {"20% loss", TRST_CC_CUBIC, 0.20, 0, 0, 5, 0, 0, -1, 16, 4},
    {"200ms delay", TRST_CC_CUBIC, 0.001, 0, 0, 100, 0, 0, -1, 64, 4},
    {"reorder jitter", TRST_CC_CUBIC, 0, 0, 0, 5, 8, 0, -1, 64, 4},
    {"duplication", TRST_CC_CUBIC, 0, 0.10, 0, 2, 1, 0, -1, 64, 4},
    {"corruption", TRST_CC_CUBIC, 0, 0, 0.05, 2, 0, 0, -1, 64, 4},
    {"everything", TRST_CC_BBR, 0.05, 0.05, 0.02, 30, 10, 50, -1, 16, 8},
    {"asymmetric", TRST_CC_CUBIC, 0.0, 0, 0, 20, 0, 100, 0.20, 64, 4},
};

START_TEST(test_transfer_matrix)
{
	const struct scenario *sc = &matrix[_i];
	make_pair(sc->cc, NULL);
	struct link *links[2] = {&ab, &ba};
	for (int d = 0; d < 2; d++) {
		struct link *l = links[d];
		l->loss = d == 1 && sc->back_loss >= 0 ? sc->back_loss : sc->loss;
		l->dup = sc->dup;
		l->corrupt = sc->corrupt;
		l->delay = sc->delay_ms * 1000;
		l->jitter = sc->jitter_ms * 1000;
		l->rate = sc->rate_mbit * 1000000 / 8;
		l->queue = l->rate ? l->rate / 20 : 0; /* 50 ms of queue */
	}
	open_streams(sc->streams, (sc->mib << 20) / (uint64_t)sc->streams);
	uint64_t t = run(all_received, 3600ull * 1000000);
	check_all_received();
	double secs = (double)t / 1e6;
	struct trst_conn_stats st;
	trst_conn_get_stats(A.c, &st);
	printf("%-22s %3llu MiB in %7.2f s simulated: %7.1f Mbit/s, %llu packets, %llu lost, "
	       "srtt %llu us, mtu %llu\n",
	       sc->name, (unsigned long long)sc->mib, secs, sc->mib * 8.0 * 1.048576 / secs,
	       (unsigned long long)st.packets_sent, (unsigned long long)st.packets_lost,
	       (unsigned long long)st.srtt_us, (unsigned long long)st.mtu);
	ck_assert(!A.closed && !B.closed);
	free_pair();
}
END_TEST

/* ---- the rest ---- */

START_TEST(test_slow_reader_bounded)
{
	struct trst_conn_config cfg;
	trst_conn_config_default(&cfg);
	cfg.stream_window = 256 * 1024;
	cfg.conn_window = 1024 * 1024;
	cfg.stream_send_buffer = 512 * 1024;
	make_pair(TRST_CC_CUBIC, &cfg);
	ab.delay = ba.delay = 1000;
	B.slow = 1;
	open_streams(2, 64ull << 20);
	run(all_received, 5ull * 1000000);
	/* The reader took nothing: at most one stream window each arrived,
	 * and the writer could buffer at most its send buffer. */
	ck_assert_uint_le(B.unconsumed, 2 * 256 * 1024);
	for (int i = 0; i < 2; i++)
		ck_assert_uint_le(A.tx[i].written, 256 * 1024 + 512 * 1024);
	free_pair();
}
END_TEST

START_TEST(test_thousand_streams)
{
	make_pair(TRST_CC_CUBIC, NULL);
	ab.delay = ba.delay = 2000;
	ab.loss = ba.loss = 0.01;
	open_streams(1000, 3000);
	run(all_received, 600ull * 1000000);
	check_all_received();
	/* every stream was freed on both sides after it finished */
	free_pair();
}
END_TEST

static int a_closed(void)
{
	return A.closed;
}

START_TEST(test_idle_timeout)
{
	struct trst_conn_config cfg;
	trst_conn_config_default(&cfg);
	cfg.idle_timeout_us = 5 * 1000000;
	cfg.keepalive_us = 1000000;
	make_pair(TRST_CC_CUBIC, &cfg);
	ab.delay = ba.delay = 1000;
	open_streams(1, 100000);
	run(all_received, 60ull * 1000000);
	check_all_received();
	/* Quiet but alive: keepalives hold it open well past the timeout. */
	uint64_t t0 = now;
	run(a_closed, 20ull * 1000000);
	ck_assert(!A.closed);
	ck_assert_uint_ge(now - t0, 19ull * 1000000);
	/* The peer vanishes: the idle timeout fires within its bound. */
	ab.blackhole = ba.blackhole = 1;
	t0 = now;
	run(a_closed, 60ull * 1000000);
	ck_assert(A.closed);
	ck_assert_int_eq(A.close_err, TRYST_ERR_TIMEOUT);
	ck_assert_uint_le(now - t0, 6ull * 1000000);
	ck_assert(trst_conn_is_closed(A.c));
	free_pair();
}
END_TEST

static int b_closed(void)
{
	return B.closed && A.closed;
}

START_TEST(test_clean_close)
{
	make_pair(TRST_CC_CUBIC, NULL);
	ab.delay = ba.delay = 1000;
	open_streams(1, 10000);
	run(all_received, 10ull * 1000000);
	trst_conn_close(A.c, 7, "bye", now);
	ck_assert(A.closed); /* the owner is told at once */
	run(b_closed, 10ull * 1000000);
	ck_assert(B.closed);
	ck_assert_int_eq(B.close_err, TRYST_ERR_CLOSED_BY_PEER);
	/* and both finish their closing periods */
	for (int i = 0; i < 100 && !(trst_conn_is_closed(A.c) && trst_conn_is_closed(B.c)); i++) {
		now += 100000;
		trst_conn_timeout(A.c, now);
		trst_conn_timeout(B.c, now);
	}
	ck_assert(trst_conn_is_closed(A.c) && trst_conn_is_closed(B.c));
	free_pair();
}
END_TEST

START_TEST(test_bad_packets_harmless)
{
	/* Tampered, truncated (every length), replayed and foreign packets
	 * are refused; the transfer continues unharmed. */
	uint8_t buf[MAX_PKT], bad[MAX_PKT];
	size_t n;
	make_pair(TRST_CC_CUBIC, NULL);
	open_streams(1, 200000);
	pump_writes(&A);
	n = trst_conn_write(A.c, buf, sizeof buf, now);
	ck_assert_uint_gt(n, 0);
	memcpy(bad, buf, n); /* packets are opened in place: keep a copy */
	ck_assert_int_eq(trst_conn_recv(B.c, buf, n, NULL, 0, now), 0);
	/* replay */
	ck_assert_int_eq(trst_conn_recv(B.c, bad, n, NULL, 0, now), TRYST_ERR_PACKET_REPLAY);
	/* every truncation */
	uint8_t orig[MAX_PKT];
	memcpy(orig, bad, n);
	for (size_t k = 0; k < n; k++) {
		memcpy(bad, orig, n);
		ck_assert_int_lt(trst_conn_recv(B.c, bad, k, NULL, 0, now), 0);
	}
	n = trst_conn_write(A.c, buf, sizeof buf, now);
	ck_assert_uint_gt(n, 0);
	uint8_t good[MAX_PKT];
	memcpy(good, buf, n);
	/* a bit flipped anywhere */
	for (size_t k = 0; k < n; k += 7) {
		memcpy(bad, good, n);
		bad[k] ^= 0x10;
		ck_assert_int_lt(trst_conn_recv(B.c, bad, n, NULL, 0, now), 0);
	}
	/* a packet from a connection with other keys */
	struct trst_pkt_crypto other;
	uint8_t s1[32], s2[32];
	memset(s1, 9, 32);
	memset(s2, 8, 32);
	ck_assert_int_eq(trst_pkt_crypto_init(&other, trst_aead_local_best(), s1, s2, 11, 22), 0);
	memset(bad + TRST_PKT_HEADER_LEN, TRST_FRAME_PING, 20);
	ssize_t m = trst_pkt_seal(&other, bad, 20, sizeof bad, NULL);
	ck_assert_int_gt(m, 0);
	ck_assert_int_eq(trst_conn_recv(B.c, bad, (size_t)m, NULL, 0, now), TRYST_ERR_PACKET_AUTH);
	trst_pkt_crypto_wipe(&other);
	/* the genuine packet still works, and so does the whole transfer */
	ck_assert_int_eq(trst_conn_recv(B.c, good, n, NULL, 0, now), 0);
	ab.delay = ba.delay = 1000;
	run(all_received, 10ull * 1000000);
	check_all_received();
	ck_assert(!B.closed);
	free_pair();
}
END_TEST

START_TEST(test_datagrams)
{
	make_pair(TRST_CC_CUBIC, NULL);
	ab.delay = ba.delay = 1000;
	uint8_t d[1000];
	memset(d, 1, sizeof d);
	ck_assert_int_eq(trst_conn_send_datagram(A.c, d, trst_conn_datagram_max(A.c) + 1),
	                 TRYST_ERR_INVALID);
	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(trst_conn_send_datagram(A.c, d, sizeof d), 0);
	open_streams(1, 1000);
	run(all_received, 10ull * 1000000);
	ck_assert_uint_eq(B.datagrams, 10);
	free_pair();
}
END_TEST

START_TEST(test_key_update)
{
	struct trst_conn_config cfg;
	trst_conn_config_default(&cfg);
	cfg.key_update_packets = 500;
	make_pair(TRST_CC_CUBIC, &cfg);
	ab.delay = ba.delay = 2000;
	ab.jitter = 1000; /* reordering across key phases */
	open_streams(2, 8ull << 20);
	run(all_received, 600ull * 1000000);
	check_all_received();
	struct trst_conn_stats st;
	trst_conn_get_stats(A.c, &st);
	ck_assert_uint_ge(st.key_updates, 5);
	free_pair();
}
END_TEST

START_TEST(test_stream_reset)
{
	make_pair(TRST_CC_CUBIC, NULL);
	ab.delay = ba.delay = 1000;
	open_streams(2, 1ull << 20);
	run(all_received, 10000); /* get going */
	ck_assert_int_eq(trst_conn_stream_reset(A.tx[0].s, 42), 0);
	A.tx[0].total = A.tx[0].written; /* stop writing it */
	A.tx[0].finished = 1;
	uint64_t t0 = now;
	while (!(B.rx[0].reset && B.rx[1].fin) && now - t0 < 10ull * 1000000) {
		int (*never)(void) = all_received;
		run(never, 100000);
	}
	ck_assert(B.rx[0].reset);
	ck_assert(B.rx[1].fin);
	free_pair();
}
END_TEST

START_TEST(test_tparams)
{
	struct trst_tparams tp, back;
	uint8_t buf[TRST_TPARAMS_MAX_SIZE];
	struct trst_conn_config cfg;
	trst_conn_config_default(&cfg);
	trst_conn_config_tparams(&cfg, &tp);
	size_t n = trst_tparams_encode(&tp, buf);
	ck_assert_uint_le(n, TRST_TPARAMS_MAX_SIZE);
	ck_assert_int_eq(trst_tparams_decode(buf, n, &back), 0);
	ck_assert(memcmp(&tp, &back, sizeof tp) == 0);
	for (size_t k = 0; k < n; k++)
		ck_assert_int_lt(trst_tparams_decode(buf, k, &back), 0);
	buf[0] = 2;
	ck_assert_int_lt(trst_tparams_decode(buf, n, &back), 0);
}
END_TEST

/* ---- the transport parameter vectors of doc/PROTOCOL.md ---- */

static void tv_tparams(const struct tv_block *b, struct trst_tparams *tp)
{
	memset(tp, 0, sizeof *tp);
	tp->max_data = tv_get_u64(b, "max-data");
	tp->max_stream_data = tv_get_u64(b, "max-stream-data");
	tp->max_streams = tv_get_u64(b, "max-streams");
	tp->max_udp_payload = tv_get_u64(b, "max-udp-payload");
	tp->idle_timeout_ms = tv_get_u64(b, "idle-timeout-ms");
	tp->aeads = tv_get_u64(b, "aeads");
}

START_TEST(test_tparams_vectors)
{
	int encoded = 0, decoded = 0, refused = 0;
	tv_load("doc/PROTOCOL.md");
	for (int i = 0; i < tv_n_blocks; i++) {
		const struct tv_block *b = &tv_blocks[i];
		uint8_t want[TRST_TPARAMS_MAX_SIZE], got[TRST_TPARAMS_MAX_SIZE];
		struct trst_tparams tp, back;
		if (tv_is(b, "tparams")) {
			size_t n = tv_get_hex(b, "tparams", want, sizeof want);
			tv_tparams(b, &tp);
			/* decode: the bytes give exactly the listed values */
			memset(&back, 0x5a, sizeof back);
			ck_assert_int_eq(trst_tparams_decode(want, n, &back), 0);
			ck_assert(memcmp(&tp, &back, sizeof tp) == 0);
			decoded++;
			if (tv_get_nth(b, "decode-only", 0))
				continue;
			/* encode: the values give exactly the listed bytes */
			ck_assert_uint_eq(trst_tparams_encode(&tp, got), n);
			ck_assert_mem_eq(got, want, n);
			/* and no proper prefix of them is accepted */
			for (size_t k = 0; k < n; k++)
				ck_assert_int_eq(trst_tparams_decode(want, k, &back),
				                 TRYST_ERR_FRAME_MALFORMED);
			encoded++;
		} else if (tv_is(b, "tparams-invalid")) {
			for (int j = 0; tv_get_nth(b, "bad", j); j++) {
				const char *v = tv_get_nth(b, "bad", j);
				char hex[2 * TRST_TPARAMS_MAX_SIZE + 1];
				size_t h = 0;
				for (; *v; v++) /* spaces separate fields for the reader */
					if (*v != ' ' && h < sizeof hex - 1)
						hex[h++] = *v;
				hex[h] = '\0';
				long n = trst_hex_decode(hex, h, want, sizeof want);
				ck_assert_int_gt(n, 0);
				ck_assert_int_eq(trst_tparams_decode(want, (size_t)n, &back),
				                 TRYST_ERR_FRAME_MALFORMED);
				refused++;
			}
		}
	}
	ck_assert_int_ge(encoded, 1);
	ck_assert_int_ge(decoded, 2);
	ck_assert_int_ge(refused, 5);
}
END_TEST

/* Random values of every varint size survive encode and decode. */
START_TEST(test_tparams_random)
{
	rng_state = 0x0123456789abcdefull;
	for (int i = 0; i < 10000; i++) {
		struct trst_tparams tp, back;
		uint8_t buf[TRST_TPARAMS_MAX_SIZE];
		uint64_t *f[] = {&tp.max_data,        &tp.max_stream_data, &tp.max_streams,
		                 &tp.max_udp_payload, &tp.idle_timeout_ms, &tp.aeads};
		for (size_t j = 0; j < TRST_ARRAY_LEN(f); j++)
			*f[j] = rnd() >> (2 + rnd() % 62); /* 0 ..= 2^62 - 1, every length */
		if (tp.max_udp_payload < 1200)
			tp.max_udp_payload += 1200;
		size_t n = trst_tparams_encode(&tp, buf);
		ck_assert_uint_le(n, TRST_TPARAMS_MAX_SIZE);
		ck_assert_int_eq(trst_tparams_decode(buf, n, &back), 0);
		ck_assert(memcmp(&tp, &back, sizeof tp) == 0);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("conn");
	TCase *tc = tcase_create("simulated link");
	tcase_set_timeout(tc, 300);
	tcase_add_loop_test(tc, test_transfer_matrix, 0, (int)TRST_ARRAY_LEN(matrix));
	tcase_add_test(tc, test_slow_reader_bounded);
	tcase_add_test(tc, test_thousand_streams);
	tcase_add_test(tc, test_idle_timeout);
	tcase_add_test(tc, test_clean_close);
	tcase_add_test(tc, test_bad_packets_harmless);
	tcase_add_test(tc, test_datagrams);
	tcase_add_test(tc, test_key_update);
	tcase_add_test(tc, test_stream_reset);
	tcase_add_test(tc, test_tparams);
	tcase_add_test(tc, test_tparams_vectors);
	tcase_add_test(tc, test_tparams_random);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
