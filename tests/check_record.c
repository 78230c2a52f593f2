/* check_record.c: record encoding, decoding and every way to reject one. */
#include "testutil.h"

#include <sodium.h>

static tryst_identity *alice, *bob;
static uint8_t alice_key[32], bob_key[32];
static tryst_record full;
static uint8_t full_buf[TRYST_RECORD_MAX_SIZE];
static size_t full_len;

/* A record with every list full and every address IPv6: the largest. */
static void make_full(tryst_record *r)
{
	memset(r, 0, sizeof *r);
	r->seq = T0_US;
	r->ttl = 600;
	r->nat = TRYST_NAT_MAP_EI | TRYST_NAT_PORT_PRESERVING | TRYST_NAT_FILTER_APD;
	r->n_candidates = TRYST_RECORD_MAX_CANDIDATES;
	for (int i = 0; i < TRYST_RECORD_MAX_CANDIDATES; i++) {
		char ip[64];
		snprintf(ip, sizeof ip, "2001:db8::%x", i + 1);
		tu_addr(&r->candidates[i].addr, ip, (uint16_t)(40000 + i));
		r->candidates[i].kind = (uint8_t)(1 + i % 3);
	}
	r->n_servers = TRYST_RECORD_MAX_SERVERS;
	for (int i = 0; i < TRYST_RECORD_MAX_SERVERS; i++) {
		char ip[64];
		snprintf(ip, sizeof ip, "2001:db8:1::%x", i + 1);
		tu_addr(&r->servers[i].addr, ip, 7000);
		memset(r->servers[i].key, 0x40 + i, 32);
	}
	r->app_len = TRYST_RECORD_MAX_APP;
	for (int i = 0; i < TRYST_RECORD_MAX_APP; i++)
		r->app[i] = (uint8_t)i;
}

static void setup(void)
{
	alice = tu_identity(0xa1);
	bob = tu_identity(0xb0);
	tryst_identity_public_key(alice, alice_key);
	tryst_identity_public_key(bob, bob_key);
	make_full(&full);
	ck_assert_int_eq(tryst_record_encode(&full, alice, full_buf, sizeof full_buf, &full_len),
	                 0);
}

static void teardown(void)
{
	tryst_identity_free(alice);
	tryst_identity_free(bob);
}

static int decode(const uint8_t *b, size_t n, tryst_record *out)
{
	return tryst_record_decode(b, n, alice_key, 0, T0_US + 1000000, out);
}

/* Sign raw record bytes (everything before the signature) as the record
 * signer would, so structural checks can be tested on validly signed
 * input; returns the total length. */
static size_t sign_raw(tryst_identity *id, uint8_t *buf, size_t body_len)
{
	uint8_t msg[15 + 1024];
	memcpy(msg, "tryst/record/v1", 15);
	memcpy(msg + 15, buf, body_len);
	tryst_identity_sign(id, msg, 15 + body_len, buf + body_len);
	return body_len + 64;
}

START_TEST(test_full_roundtrip)
{
	tryst_record got;
	ck_assert_uint_eq(full_len, TRYST_RECORD_MAX_SIZE);
	ck_assert_int_eq(decode(full_buf, full_len, &got), 0);
	ck_assert_mem_eq(got.key, alice_key, 32);
	ck_assert(got.seq == full.seq);
	ck_assert_uint_eq(got.ttl, full.ttl);
	ck_assert_uint_eq(got.nat, full.nat);
	ck_assert_uint_eq(got.n_candidates, full.n_candidates);
	for (int i = 0; i < full.n_candidates; i++) {
		ck_assert_uint_eq(got.candidates[i].kind, full.candidates[i].kind);
		ck_assert_mem_eq(&got.candidates[i].addr, &full.candidates[i].addr,
		                 sizeof(struct sockaddr_in6));
	}
	ck_assert_uint_eq(got.n_servers, full.n_servers);
	for (int i = 0; i < full.n_servers; i++) {
		ck_assert_mem_eq(got.servers[i].key, full.servers[i].key, 32);
		ck_assert_mem_eq(&got.servers[i].addr, &full.servers[i].addr,
		                 sizeof(struct sockaddr_in6));
	}
	ck_assert_uint_eq(got.app_len, full.app_len);
	ck_assert_mem_eq(got.app, full.app, full.app_len);
	/* Re-encoding the decoded record gives the same bytes (Ed25519
	 * signatures are deterministic). */
	uint8_t again[TRYST_RECORD_MAX_SIZE];
	size_t again_len;
	ck_assert_int_eq(tryst_record_encode(&got, alice, again, sizeof again, &again_len), 0);
	ck_assert_uint_eq(again_len, full_len);
	ck_assert_mem_eq(again, full_buf, full_len);
}
END_TEST

START_TEST(test_minimal_and_ipv4)
{
	tryst_record r, got;
	uint8_t buf[TRYST_RECORD_MAX_SIZE];
	size_t len;
	memset(&r, 0, sizeof r);
	r.seq = T0_US;
	r.ttl = 1;
	ck_assert_int_eq(tryst_record_encode(&r, alice, buf, sizeof buf, &len), 0);
	ck_assert_uint_eq(len, 46 + 3 + 64); /* header, three empty counts, sig */
	ck_assert_int_eq(tryst_record_decode(buf, len, alice_key, 0, T0_US, &got), 0);
	ck_assert_uint_eq(got.n_candidates, 0);

	/* IPv4, and an IPv4-mapped IPv6 address which encodes as IPv4. */
	tu_addr(&r.candidates[0].addr, "192.0.2.1", 1);
	r.candidates[0].kind = TRYST_CAND_SRFLX;
	tu_addr(&r.candidates[1].addr, "::ffff:198.51.100.7", 65535);
	r.candidates[1].kind = TRYST_CAND_RELAY;
	r.n_candidates = 2;
	ck_assert_int_eq(tryst_record_encode(&r, alice, buf, sizeof buf, &len), 0);
	ck_assert_uint_eq(len, 46 + 3 + 64 + 2 * (1 + 1 + 4 + 2));
	ck_assert_int_eq(tryst_record_decode(buf, len, alice_key, 0, T0_US, &got), 0);
	const struct sockaddr_in *a = (const struct sockaddr_in *)&got.candidates[1].addr;
	ck_assert_int_eq(a->sin_family, AF_INET);
	ck_assert_uint_eq(ntohs(a->sin_port), 65535);
	ck_assert_uint_eq(ntohl(a->sin_addr.s_addr), 0xc6336407);
}
END_TEST

START_TEST(test_every_truncation)
{
	tryst_record got;
	memset(&got, 0x5a, sizeof got);
	for (size_t n = 0; n < full_len; n++)
		ck_assert_int_eq(decode(full_buf, n, &got), TRYST_ERR_RECORD_TRUNCATED);
	/* nothing written on failure */
	ck_assert_uint_eq(got.ttl, 0x5a5a5a5a);
}
END_TEST

START_TEST(test_every_bit_flip)
{
	/* 605 bytes x 8 bits: every single-bit change is rejected. */
	uint8_t buf[TRYST_RECORD_MAX_SIZE];
	tryst_record got;
	for (size_t i = 0; i < full_len; i++) {
		for (int b = 0; b < 8; b++) {
			memcpy(buf, full_buf, full_len);
			buf[i] ^= (uint8_t)(1 << b);
			int rc = decode(buf, full_len, &got);
			ck_assert_msg(rc < 0, "flip of byte %zu bit %d accepted", i, b);
			if (i >= full_len - 64)
				ck_assert_int_eq(rc, TRYST_ERR_RECORD_SIGNATURE);
		}
	}
}
END_TEST

START_TEST(test_wrong_signer)
{
	/* Bytes that claim to be alice's record, signed by bob. */
	uint8_t buf[TRYST_RECORD_MAX_SIZE];
	tryst_record got;
	memcpy(buf, full_buf, full_len);
	sign_raw(bob, buf, full_len - 64);
	ck_assert_int_eq(decode(buf, full_len, &got), TRYST_ERR_RECORD_SIGNATURE);
	/* Bob's genuine record, when alice's was expected. */
	uint8_t bobs[TRYST_RECORD_MAX_SIZE];
	size_t bobs_len;
	ck_assert_int_eq(tryst_record_encode(&full, bob, bobs, sizeof bobs, &bobs_len), 0);
	ck_assert_int_eq(decode(bobs, bobs_len, &got), TRYST_ERR_RECORD_WRONG_KEY);
	/* ...which is fine for whoever asked for any key. */
	ck_assert_int_eq(tryst_record_decode(bobs, bobs_len, NULL, 0, T0_US, &got), 0);
	ck_assert_mem_eq(got.key, bob_key, 32);
}
END_TEST

START_TEST(test_time_rules)
{
	tryst_record got;
	const uint64_t ttl_us = 600ull * 1000000;
	/* valid from seq until seq + ttl */
	ck_assert_int_eq(tryst_record_decode(full_buf, full_len, NULL, 0, T0_US, &got), 0);
	ck_assert_int_eq(tryst_record_decode(full_buf, full_len, NULL, 0, T0_US + ttl_us - 1, &got),
	                 0);
	ck_assert_int_eq(tryst_record_decode(full_buf, full_len, NULL, 0, T0_US + ttl_us, &got),
	                 TRYST_ERR_RECORD_EXPIRED);
	ck_assert_int_eq(tryst_record_decode(full_buf, full_len, NULL, 0, UINT64_MAX, &got),
	                 TRYST_ERR_RECORD_EXPIRED);
	/* a clock behind ours by up to the skew allowance is tolerated */
	ck_assert_int_eq(tryst_record_decode(full_buf, full_len, NULL, 0,
	                                     T0_US - TRYST_RECORD_MAX_SKEW_US, &got),
	                 0);
	ck_assert_int_eq(tryst_record_decode(full_buf, full_len, NULL, 0,
	                                     T0_US - TRYST_RECORD_MAX_SKEW_US - 1, &got),
	                 TRYST_ERR_RECORD_FUTURE);
	ck_assert_int_eq(tryst_record_decode(full_buf, full_len, NULL, 0, 0, &got),
	                 TRYST_ERR_RECORD_FUTURE);
}
END_TEST

START_TEST(test_replay)
{
	tryst_record got;
	/* Same sequence again: the same record re-delivered, accepted. */
	ck_assert_int_eq(tryst_record_decode(full_buf, full_len, NULL, T0_US, T0_US, &got), 0);
	/* Anything newer has been seen: refused. */
	ck_assert_int_eq(tryst_record_decode(full_buf, full_len, NULL, T0_US + 1, T0_US, &got),
	                 TRYST_ERR_RECORD_STALE);
	/* A newer record from alice replaces it. */
	tryst_record r2 = full;
	uint8_t buf[TRYST_RECORD_MAX_SIZE];
	size_t len;
	r2.seq = T0_US + 5;
	ck_assert_int_eq(tryst_record_encode(&r2, alice, buf, sizeof buf, &len), 0);
	ck_assert_int_eq(tryst_record_decode(buf, len, alice_key, T0_US, T0_US, &got), 0);
	ck_assert(got.seq == T0_US + 5);
}
END_TEST

START_TEST(test_oversize)
{
	uint8_t buf[TRYST_RECORD_MAX_SIZE + 64];
	tryst_record got;
	tryst_record r = full;
	size_t len;
	/* A byte after the signature. */
	r.n_servers = 0;
	ck_assert_int_eq(tryst_record_encode(&r, alice, buf, sizeof buf, &len), 0);
	buf[len] = 0;
	ck_assert_int_eq(decode(buf, len + 1, &got), TRYST_ERR_RECORD_OVERSIZE);
	/* Longer than any record can be. */
	memcpy(buf, full_buf, full_len);
	ck_assert_int_eq(decode(buf, full_len + 1, &got), TRYST_ERR_RECORD_OVERSIZE);
	ck_assert_int_eq(decode(buf, sizeof buf, &got), TRYST_ERR_RECORD_OVERSIZE);
	/* An output buffer one byte short. */
	ck_assert_int_eq(tryst_record_encode(&full, alice, buf, full_len - 1, &len),
	                 TRYST_ERR_BUFFER);
}
END_TEST

/* A small validly signed record built by hand: header, then `tail` bytes
 * (candidates, servers, app) exactly as given. */
static size_t handmade(uint8_t *buf, uint8_t version, uint8_t nat, uint32_t ttl,
                       const uint8_t *tail, size_t tail_len)
{
	uint8_t *p = buf;
	*p++ = version;
	*p++ = nat;
	memcpy(p, alice_key, 32);
	p += 32;
	trst_put_u64(p, T0_US);
	p += 8;
	trst_put_u32(p, ttl);
	p += 4;
	memcpy(p, tail, tail_len);
	p += tail_len;
	return sign_raw(alice, buf, (size_t)(p - buf));
}

START_TEST(test_handmade_valid)
{
	/* The hand builder makes what the encoder makes. */
	static const uint8_t tail[] = {1, 1, 4, 127, 0, 0, 1, 0x1f, 0x90, 0, 0};
	uint8_t buf[1024];
	tryst_record got;
	size_t n = handmade(buf, 1, 0, 60, tail, sizeof tail);
	ck_assert_int_eq(decode(buf, n, &got), 0);
	ck_assert_uint_eq(got.n_candidates, 1);
	ck_assert_uint_eq(ntohs(((struct sockaddr_in *)&got.candidates[0].addr)->sin_port), 8080);
}
END_TEST

START_TEST(test_version)
{
	static const uint8_t tail[] = {0, 0, 0};
	uint8_t buf[1024];
	tryst_record got;
	for (int v = 0; v < 256; v++) {
		if (v == TRYST_RECORD_VERSION)
			continue;
		size_t n = handmade(buf, (uint8_t)v, 0, 60, tail, sizeof tail);
		ck_assert_int_eq(decode(buf, n, &got), TRYST_ERR_RECORD_VERSION);
		ck_assert_int_eq(decode(buf, 1, &got), TRYST_ERR_RECORD_VERSION);
	}
}
END_TEST

START_TEST(test_too_many)
{
	uint8_t tail[512], buf[1024];
	tryst_record got;
	size_t t = 0;
	/* nine IPv4 candidates */
	tail[t++] = 9;
	for (int i = 0; i < 9; i++) {
		const uint8_t c[] = {1, 4, 10, 0, 0, (uint8_t)(i + 1), 0x30, 0x39};
		memcpy(tail + t, c, sizeof c);
		t += sizeof c;
	}
	tail[t++] = 0;
	tail[t++] = 0;
	size_t n = handmade(buf, 1, 0, 60, tail, t);
	ck_assert_int_eq(decode(buf, n, &got), TRYST_ERR_RECORD_TOO_MANY);
	/* 255 claimed, even with no data behind the count */
	const uint8_t many[] = {255};
	n = handmade(buf, 1, 0, 60, many, 1);
	ck_assert_int_eq(decode(buf, n, &got), TRYST_ERR_RECORD_TOO_MANY);
	/* five servers */
	t = 0;
	tail[t++] = 0;
	tail[t++] = 5;
	for (int i = 0; i < 5; i++) {
		memset(tail + t, 0x11, 32);
		t += 32;
		const uint8_t a[] = {4, 10, 0, 0, 1, 0x1b, 0x58};
		memcpy(tail + t, a, sizeof a);
		t += sizeof a;
	}
	tail[t++] = 0;
	n = handmade(buf, 1, 0, 60, tail, t);
	ck_assert_int_eq(decode(buf, n, &got), TRYST_ERR_RECORD_TOO_MANY);
	/* the encoder refuses as well */
	tryst_record r = full;
	size_t len;
	r.n_candidates = TRYST_RECORD_MAX_CANDIDATES + 1;
	ck_assert_int_eq(tryst_record_encode(&r, alice, buf, sizeof buf, &len),
	                 TRYST_ERR_RECORD_TOO_MANY);
	r = full;
	r.n_servers = TRYST_RECORD_MAX_SERVERS + 1;
	ck_assert_int_eq(tryst_record_encode(&r, alice, buf, sizeof buf, &len),
	                 TRYST_ERR_RECORD_TOO_MANY);
}
END_TEST

START_TEST(test_malformed)
{
	struct {
		const char *what;
		uint8_t nat;
		uint32_t ttl;
		uint8_t tail[40];
		size_t len;
	} cases[] = {
	    {"ttl 0", 0, 0, {0, 0, 0}, 3},
	    {"ttl over a week", 0, TRYST_RECORD_MAX_TTL + 1, {0, 0, 0}, 3},
	    {"reserved nat bits", 0x20, 60, {0, 0, 0}, 3},
	    {"candidate kind 0", 0, 60, {1, 0, 4, 10, 0, 0, 1, 0, 80, 0, 0}, 11},
	    {"candidate kind 4", 0, 60, {1, 4, 4, 10, 0, 0, 1, 0, 80, 0, 0}, 11},
	    {"family 5", 0, 60, {1, 1, 5, 10, 0, 0, 1, 0, 80, 0, 0}, 11},
	    {"port 0", 0, 60, {1, 1, 4, 10, 0, 0, 1, 0, 0, 0, 0}, 11},
	    {"address 0.0.0.0", 0, 60, {1, 1, 4, 0, 0, 0, 0, 0, 80, 0, 0}, 11},
	    {"address ::",
	     0,
	     60,
	     {1, 1, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 80, 0, 0},
	     23},
	    {"IPv4-mapped as family 6",
	     0,
	     60,
	     {1, 1, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1, 0, 80, 0, 0},
	     23},
	    {"app longer than 128", 0, 60, {0, 0, 129}, 3},
	};
	uint8_t buf[1024];
	tryst_record got;
	for (size_t i = 0; i < TRST_ARRAY_LEN(cases); i++) {
		size_t n =
		    handmade(buf, 1, cases[i].nat, cases[i].ttl, cases[i].tail, cases[i].len);
		ck_assert_msg(decode(buf, n, &got) == TRYST_ERR_RECORD_MALFORMED, "%s accepted: %s",
		              cases[i].what, tryst_strerror(decode(buf, n, &got)));
	}
	/* the encoder refuses to write such fields */
	size_t len;
	tryst_record r;
	memset(&r, 0, sizeof r);
	r.seq = T0_US;
	ck_assert_int_eq(tryst_record_encode(&r, alice, buf, sizeof buf, &len),
	                 TRYST_ERR_RECORD_MALFORMED); /* ttl 0 */
	r.ttl = 60;
	r.nat = 0x80;
	ck_assert_int_eq(tryst_record_encode(&r, alice, buf, sizeof buf, &len),
	                 TRYST_ERR_RECORD_MALFORMED);
	r.nat = 0;
	r.n_candidates = 1;
	tu_addr(&r.candidates[0].addr, "10.0.0.1", 80);
	r.candidates[0].kind = 9;
	ck_assert_int_eq(tryst_record_encode(&r, alice, buf, sizeof buf, &len),
	                 TRYST_ERR_RECORD_MALFORMED);
	r.candidates[0].kind = TRYST_CAND_HOST;
	r.candidates[0].addr.ss_family = AF_UNIX;
	ck_assert_int_eq(tryst_record_encode(&r, alice, buf, sizeof buf, &len),
	                 TRYST_ERR_RECORD_MALFORMED);
	tu_addr(&r.candidates[0].addr, "10.0.0.1", 0);
	ck_assert_int_eq(tryst_record_encode(&r, alice, buf, sizeof buf, &len),
	                 TRYST_ERR_RECORD_MALFORMED);
	tu_addr(&r.candidates[0].addr, "10.0.0.1", 80);
	r.app_len = TRYST_RECORD_MAX_APP + 1;
	ck_assert_int_eq(tryst_record_encode(&r, alice, buf, sizeof buf, &len),
	                 TRYST_ERR_RECORD_MALFORMED);
	r.app_len = 0;
	ck_assert_int_eq(tryst_record_encode(&r, alice, buf, sizeof buf, &len), 0);
}
END_TEST

START_TEST(test_random_junk)
{
	/* Random bytes of every plausible length are never accepted. */
	uint8_t buf[TRYST_RECORD_MAX_SIZE + 8];
	tryst_record got;
	for (int round = 0; round < 20000; round++) {
		size_t n = randombytes_uniform(sizeof buf);
		randombytes_buf(buf, n);
		if (n && round % 2)
			buf[0] = TRYST_RECORD_VERSION;
		ck_assert_int_lt(tryst_record_decode(buf, n, NULL, 0, T0_US, &got), 0);
	}
}
END_TEST

START_TEST(test_null_args)
{
	tryst_record got;
	size_t len;
	ck_assert_int_eq(tryst_record_decode(NULL, 10, NULL, 0, 0, &got), TRYST_ERR_INVALID);
	ck_assert_int_eq(tryst_record_decode(full_buf, full_len, NULL, 0, 0, NULL),
	                 TRYST_ERR_INVALID);
	ck_assert_int_eq(tryst_record_encode(NULL, alice, full_buf, sizeof full_buf, &len),
	                 TRYST_ERR_INVALID);
	ck_assert_int_eq(tryst_record_encode(&full, NULL, full_buf, sizeof full_buf, &len),
	                 TRYST_ERR_INVALID);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("record");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_full_roundtrip);
	tcase_add_test(tc, test_minimal_and_ipv4);
	tcase_add_test(tc, test_every_truncation);
	tcase_add_test(tc, test_every_bit_flip);
	tcase_add_test(tc, test_wrong_signer);
	tcase_add_test(tc, test_time_rules);
	tcase_add_test(tc, test_replay);
	tcase_add_test(tc, test_oversize);
	tcase_add_test(tc, test_handmade_valid);
	tcase_add_test(tc, test_version);
	tcase_add_test(tc, test_too_many);
	tcase_add_test(tc, test_malformed);
	tcase_add_test(tc, test_random_junk);
	tcase_add_test(tc, test_null_args);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
