/*
 * check_punch.c: the small datagrams of dialing by key (src/punch.c):
 * PUNCH probes and server key queries/replies against the vectors of
 * doc/PROTOCOL.md ("Dialing by key and punching"), every truncation and
 * extension, and every wrong byte refused.
 */
#include "testutil.h"
#include "vectors.h"

#include "punch.h"

static const struct tv_block *block(const char *type)
{
	tv_load("doc/PROTOCOL.md");
	for (int i = 0; i < tv_n_blocks; i++)
		if (tv_is(&tv_blocks[i], type))
			return &tv_blocks[i];
	ck_abort_msg("no '%s' vector in doc/PROTOCOL.md", type);
	return NULL;
}

START_TEST(test_punch_vector)
{
	const struct tv_block *b = block("punch");
	uint8_t token[TRST_TOKEN_SIZE], want[64], got[TRST_PUNCH_SIZE];
	const uint8_t *t;
	ck_assert_uint_eq(tv_get_hex(b, "token", token, sizeof token), sizeof token);
	ck_assert_uint_eq(tv_get_hex(b, "message", want, sizeof want), TRST_PUNCH_SIZE);
	trst_punch_encode(token, got);
	ck_assert_mem_eq(got, want, TRST_PUNCH_SIZE);
	ck_assert_int_eq(trst_punch_decode(want, TRST_PUNCH_SIZE, &t), 0);
	ck_assert_mem_eq(t, token, TRST_TOKEN_SIZE);
}
END_TEST

START_TEST(test_punch_refused)
{
	uint8_t token[TRST_TOKEN_SIZE], p[TRST_PUNCH_SIZE + 1];
	const uint8_t *t;
	memset(token, 0x5a, sizeof token);
	trst_punch_encode(token, p);
	p[TRST_PUNCH_SIZE] = 0;
	for (size_t len = 0; len <= sizeof p; len++)
		if (len != TRST_PUNCH_SIZE)
			ck_assert_int_eq(trst_punch_decode(p, len, &t), TRYST_ERR_PROBE_MALFORMED);
	p[1] = 2; /* a version we do not know */
	ck_assert_int_eq(trst_punch_decode(p, TRST_PUNCH_SIZE, &t), TRYST_ERR_PROBE_MALFORMED);
	p[1] = TRST_PUNCH_VERSION;
	p[0] = TRST_KEY_QUERY_TYPE;
	ck_assert_int_eq(trst_punch_decode(p, TRST_PUNCH_SIZE, &t), TRYST_ERR_PROBE_MALFORMED);
}
END_TEST

START_TEST(test_key_query_vectors)
{
	const struct tv_block *q = block("key-query");
	uint8_t want[128], got[TRST_KEY_QUERY_SIZE];
	ck_assert_uint_eq(tv_get_hex(q, "message", want, sizeof want), TRST_KEY_QUERY_SIZE);
	trst_key_query_encode(got);
	ck_assert_mem_eq(got, want, sizeof got);
	ck_assert_int_eq(trst_key_query_decode(want, TRST_KEY_QUERY_SIZE), 0);

	const struct tv_block *r = block("key-reply");
	uint8_t key[TRYST_KEY_SIZE], rgot[TRST_KEY_REPLY_SIZE];
	const uint8_t *k;
	ck_assert_uint_eq(tv_get_hex(r, "key", key, sizeof key), sizeof key);
	ck_assert_uint_eq(tv_get_hex(r, "message", want, sizeof want), TRST_KEY_REPLY_SIZE);
	trst_key_reply_encode(key, rgot);
	ck_assert_mem_eq(rgot, want, sizeof rgot);
	ck_assert_int_eq(trst_key_reply_decode(want, TRST_KEY_REPLY_SIZE, &k), 0);
	ck_assert_mem_eq(k, key, sizeof key);
	/* The reply is smaller than the query: no amplification. */
	ck_assert_uint_lt(TRST_KEY_REPLY_SIZE, TRST_KEY_QUERY_SIZE);
}
END_TEST

START_TEST(test_key_query_refused)
{
	uint8_t q[TRST_KEY_QUERY_SIZE + 1], r[TRST_KEY_REPLY_SIZE + 1], key[TRYST_KEY_SIZE];
	const uint8_t *k;
	trst_key_query_encode(q);
	q[TRST_KEY_QUERY_SIZE] = 0;
	for (size_t len = 0; len <= sizeof q; len++)
		if (len != TRST_KEY_QUERY_SIZE)
			ck_assert_int_eq(trst_key_query_decode(q, len), TRYST_ERR_PROBE_MALFORMED);
	for (size_t i = 0; i < TRST_KEY_QUERY_SIZE; i++) {
		q[i] ^= 0x01; /* any changed byte: type, version, padding */
		ck_assert_int_eq(trst_key_query_decode(q, TRST_KEY_QUERY_SIZE),
		                 TRYST_ERR_PROBE_MALFORMED);
		q[i] ^= 0x01;
	}
	tryst_identity *id = tu_identity(7);
	tryst_identity_public_key(id, key);
	tryst_identity_free(id);
	trst_key_reply_encode(key, r);
	r[TRST_KEY_REPLY_SIZE] = 0;
	for (size_t len = 0; len <= sizeof r; len++)
		if (len != TRST_KEY_REPLY_SIZE)
			ck_assert_int_eq(trst_key_reply_decode(r, len, &k), TRYST_ERR_PROBE_MALFORMED);
	r[1] = 9;
	ck_assert_int_eq(trst_key_reply_decode(r, TRST_KEY_REPLY_SIZE, &k),
	                 TRYST_ERR_PROBE_MALFORMED);
	r[1] = TRST_KEY_QUERY_VERSION;
	memset(r + 2, 0, TRYST_KEY_SIZE); /* not a usable point */
	ck_assert_int_eq(trst_key_reply_decode(r, TRST_KEY_REPLY_SIZE, &k), TRYST_ERR_KEY_INVALID);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("punch");
	TCase *tc = tcase_create("codec");
	tcase_add_test(tc, test_punch_vector);
	tcase_add_test(tc, test_punch_refused);
	tcase_add_test(tc, test_key_query_vectors);
	tcase_add_test(tc, test_key_query_refused);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
