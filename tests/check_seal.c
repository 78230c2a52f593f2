/* check_seal.c: pointers, epochs and sealed records. */
#include "testutil.h"

#include <sodium.h>

static tryst_identity *alice;
static uint8_t key[32], rec[TRYST_RECORD_MAX_SIZE];
static size_t rec_len;
static const uint64_t epoch = T0_US / 1000000 / TRYST_EPOCH_SECONDS;

static void setup(void)
{
	tryst_record r;
	alice = tu_identity(0xa1);
	tryst_identity_public_key(alice, key);
	memset(&r, 0, sizeof r);
	r.seq = T0_US;
	r.ttl = 600;
	r.n_candidates = 2;
	r.candidates[0].kind = TRYST_CAND_HOST;
	tu_addr(&r.candidates[0].addr, "192.0.2.44", 4242);
	r.candidates[1].kind = TRYST_CAND_SRFLX;
	tu_addr(&r.candidates[1].addr, "2001:db8::99", 4242);
	ck_assert_int_eq(tryst_record_encode(&r, alice, rec, sizeof rec, &rec_len), 0);
}

static void teardown(void)
{
	tryst_identity_free(alice);
}

START_TEST(test_pointer_rotation)
{
	uint8_t p0[20], p1[20], pi[20], q[20];
	uint8_t other[32];
	tryst_pointer(TRYST_POINTER_RECORD, key, epoch, p0);
	tryst_pointer(TRYST_POINTER_RECORD, key, epoch, q);
	ck_assert_mem_eq(p0, q, 20); /* deterministic */
	tryst_pointer(TRYST_POINTER_RECORD, key, epoch + 1, p1);
	ck_assert_mem_ne(p0, p1, 20); /* changes with the epoch */
	tryst_pointer(TRYST_POINTER_INBOX, key, epoch, pi);
	ck_assert_mem_ne(p0, pi, 20); /* inbox and record differ */
	memcpy(other, key, 32);
	other[31] ^= 1;
	tryst_pointer(TRYST_POINTER_RECORD, other, epoch, q);
	ck_assert_mem_ne(p0, q, 20);
	/* the pointer reveals nothing of the key in the clear */
	ck_assert_ptr_null(memmem(key, 32, p0, 4));
}
END_TEST

START_TEST(test_epochs)
{
	uint64_t e[2];
	const uint64_t start = epoch * TRYST_EPOCH_SECONDS;
	ck_assert(tryst_epoch_of(start) == epoch);
	ck_assert(tryst_epoch_of(start - 1) == epoch - 1);
	ck_assert(tryst_epoch_of(start + TRYST_EPOCH_SECONDS - 1) == epoch);
	/* publishing: the next epoch too during the last overlap seconds */
	ck_assert_int_eq(tryst_publish_epochs(start, e), 1);
	ck_assert(e[0] == epoch);
	ck_assert_int_eq(
	    tryst_publish_epochs(start + TRYST_EPOCH_SECONDS - TRYST_EPOCH_OVERLAP_SECONDS - 1, e),
	    1);
	ck_assert_int_eq(
	    tryst_publish_epochs(start + TRYST_EPOCH_SECONDS - TRYST_EPOCH_OVERLAP_SECONDS, e), 2);
	ck_assert(e[0] == epoch && e[1] == epoch + 1);
	ck_assert_int_eq(tryst_publish_epochs(start + TRYST_EPOCH_SECONDS - 1, e), 2);
	/* looking up: the previous epoch too during the first overlap seconds,
	 * the next one during the last */
	ck_assert_int_eq(tryst_lookup_epochs(start, e), 2);
	ck_assert(e[0] == epoch && e[1] == epoch - 1);
	ck_assert_int_eq(tryst_lookup_epochs(start + TRYST_EPOCH_OVERLAP_SECONDS - 1, e), 2);
	ck_assert_int_eq(tryst_lookup_epochs(start + TRYST_EPOCH_OVERLAP_SECONDS, e), 1);
	ck_assert_int_eq(
	    tryst_lookup_epochs(start + TRYST_EPOCH_SECONDS - TRYST_EPOCH_OVERLAP_SECONDS - 1, e),
	    1);
	ck_assert_int_eq(
	    tryst_lookup_epochs(start + TRYST_EPOCH_SECONDS - TRYST_EPOCH_OVERLAP_SECONDS, e), 2);
	ck_assert(e[0] == epoch && e[1] == epoch + 1);
	ck_assert_int_eq(tryst_lookup_epochs(0, e), 1); /* no epoch before 0 */
	/* Whatever the moment, one epoch a publisher writes is one a reader
	 * (whose clock is within the overlap) reads. */
	for (uint64_t t = start - 2000; t < start + 2000; t += 7) {
		uint64_t pe[2], le[2];
		int np = tryst_publish_epochs(t, pe);
		for (int64_t skew = -(int64_t)TRYST_EPOCH_OVERLAP_SECONDS + 1;
		     skew < (int64_t)TRYST_EPOCH_OVERLAP_SECONDS; skew += 97) {
			int nl = tryst_lookup_epochs((uint64_t)((int64_t)t + skew), le), met = 0;
			for (int i = 0; i < np; i++)
				for (int j = 0; j < nl; j++)
					met |= pe[i] == le[j];
			ck_assert_msg(met, "t=%llu skew=%lld", (unsigned long long)t,
			              (long long)skew);
		}
	}
}
END_TEST

START_TEST(test_seal_roundtrip)
{
	uint8_t sealed[TRYST_SEAL_MAX_SIZE], out[TRYST_RECORD_MAX_SIZE];
	size_t sealed_len, out_len;
	tryst_record got;
	ck_assert_int_eq(
	    tryst_seal(key, epoch, rec, rec_len, NULL, sealed, sizeof sealed, &sealed_len), 0);
	ck_assert_uint_eq(sealed_len, TRYST_SEAL_OVERHEAD + 256);
	ck_assert_int_eq(tryst_unseal(key, epoch, sealed, sealed_len, out, sizeof out, &out_len),
	                 0);
	ck_assert_uint_eq(out_len, rec_len);
	ck_assert_mem_eq(out, rec, rec_len);
	ck_assert_int_eq(tryst_record_decode(out, out_len, key, 0, T0_US, &got), 0);
}
END_TEST

START_TEST(test_seal_hides)
{
	/* Neither the key nor any address, nor even 4 bytes of either, is in
	 * the sealed value; two seals of the same record look unrelated. */
	uint8_t s1[TRYST_SEAL_MAX_SIZE], s2[TRYST_SEAL_MAX_SIZE];
	size_t l1, l2;
	const uint8_t v4[] = {192, 0, 2, 44}, v6[] = {0x20, 0x01, 0x0d, 0xb8};
	ck_assert_int_eq(tryst_seal(key, epoch, rec, rec_len, NULL, s1, sizeof s1, &l1), 0);
	ck_assert_int_eq(tryst_seal(key, epoch, rec, rec_len, NULL, s2, sizeof s2, &l2), 0);
	ck_assert_uint_eq(l1, l2);
	ck_assert_mem_ne(s1, s2, l1);
	for (size_t i = 0; i + 4 <= 32; i++)
		ck_assert_ptr_null(memmem(s1, l1, key + i, 4));
	ck_assert_ptr_null(memmem(s1, l1, v4, 4));
	ck_assert_ptr_null(memmem(s1, l1, v6, 4));
}
END_TEST

START_TEST(test_seal_sizes)
{
	/* Body padded to multiples of 256: record lengths map to 3 sizes. */
	uint8_t junk[TRYST_RECORD_MAX_SIZE], sealed[TRYST_SEAL_MAX_SIZE],
	    out[TRYST_RECORD_MAX_SIZE];
	size_t sealed_len, out_len;
	randombytes_buf(junk, sizeof junk);
	for (size_t n = 1; n <= TRYST_RECORD_MAX_SIZE; n++) {
		ck_assert_int_eq(
		    tryst_seal(key, epoch, junk, n, NULL, sealed, sizeof sealed, &sealed_len), 0);
		size_t expect = n + 2 <= 256 ? 256 : n + 2 <= 512 ? 512 : 768;
		ck_assert_uint_eq(sealed_len, TRYST_SEAL_OVERHEAD + expect);
		ck_assert_int_eq(
		    tryst_unseal(key, epoch, sealed, sealed_len, out, sizeof out, &out_len), 0);
		ck_assert_uint_eq(out_len, n);
		ck_assert_mem_eq(out, junk, n);
	}
	ck_assert_int_eq(tryst_seal(key, epoch, junk, 0, NULL, sealed, sizeof sealed, &sealed_len),
	                 TRYST_ERR_INVALID);
	ck_assert_int_eq(tryst_seal(key, epoch, junk, TRYST_RECORD_MAX_SIZE + 1, NULL, sealed,
	                            sizeof sealed, &sealed_len),
	                 TRYST_ERR_INVALID);
	ck_assert_int_eq(
	    tryst_seal(key, epoch, junk, 10, NULL, sealed, TRYST_SEAL_OVERHEAD + 255, &sealed_len),
	    TRYST_ERR_BUFFER);
}
END_TEST

START_TEST(test_unseal_wrong_key_epoch)
{
	uint8_t sealed[TRYST_SEAL_MAX_SIZE], out[TRYST_RECORD_MAX_SIZE], other[32];
	size_t sealed_len, out_len;
	ck_assert_int_eq(
	    tryst_seal(key, epoch, rec, rec_len, NULL, sealed, sizeof sealed, &sealed_len), 0);
	memcpy(other, key, 32);
	other[0] ^= 0x80;
	ck_assert_int_eq(tryst_unseal(other, epoch, sealed, sealed_len, out, sizeof out, &out_len),
	                 TRYST_ERR_SEAL_OPEN);
	ck_assert_int_eq(
	    tryst_unseal(key, epoch + 1, sealed, sealed_len, out, sizeof out, &out_len),
	    TRYST_ERR_SEAL_OPEN);
	ck_assert_int_eq(tryst_unseal(key, epoch, sealed, sealed_len, out, rec_len - 1, &out_len),
	                 TRYST_ERR_BUFFER);
}
END_TEST

START_TEST(test_unseal_tamper_truncate)
{
	uint8_t sealed[TRYST_SEAL_MAX_SIZE + 1], buf[TRYST_SEAL_MAX_SIZE + 1];
	uint8_t out[TRYST_RECORD_MAX_SIZE];
	size_t sealed_len, out_len;
	ck_assert_int_eq(
	    tryst_seal(key, epoch, rec, rec_len, NULL, sealed, sizeof sealed, &sealed_len), 0);
	for (size_t i = 0; i < sealed_len; i++) {
		for (int b = 0; b < 8; b++) {
			memcpy(buf, sealed, sealed_len);
			buf[i] ^= (uint8_t)(1 << b);
			int rc =
			    tryst_unseal(key, epoch, buf, sealed_len, out, sizeof out, &out_len);
			ck_assert_int_eq(rc, i == 0 ? TRYST_ERR_SEAL_VERSION : TRYST_ERR_SEAL_OPEN);
		}
	}
	ck_assert_int_eq(tryst_unseal(key, epoch, sealed, 0, out, sizeof out, &out_len),
	                 TRYST_ERR_SEAL_TRUNCATED);
	for (size_t n = 1; n < sealed_len; n++)
		ck_assert_int_eq(tryst_unseal(key, epoch, sealed, n, out, sizeof out, &out_len),
		                 TRYST_ERR_SEAL_TRUNCATED);
	/* one more byte: no longer a whole number of pad blocks */
	ck_assert_int_eq(
	    tryst_unseal(key, epoch, sealed, sealed_len + 1, out, sizeof out, &out_len),
	    TRYST_ERR_SEAL_PADDING);
}
END_TEST

/* Seal a hand-made body with the derivation of doc/PROTOCOL.md, written
 * out here independently of src/seal.c. */
static size_t seal_body(const uint8_t *body, size_t body_len, uint8_t *out)
{
	uint8_t k[32], ad[21];
	tu_seal_key(key, epoch, k);
	ad[0] = 1;
	tryst_pointer(TRYST_POINTER_RECORD, key, epoch, ad + 1);
	out[0] = 1;
	randombytes_buf(out + 1, 24);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + 25, NULL, body, body_len, ad, sizeof ad,
	                                           NULL, out + 1, k);
	return 1 + 24 + body_len + 16;
}

START_TEST(test_unseal_bad_padding)
{
	uint8_t body[768], sealed[TRYST_SEAL_MAX_SIZE + 256], out[TRYST_RECORD_MAX_SIZE];
	size_t n, out_len;

	/* The independent sealer agrees with the library on a good body. */
	memset(body, 0, sizeof body);
	trst_put_u16(body, (uint16_t)rec_len);
	memcpy(body + 2, rec, rec_len);
	n = seal_body(body, 256, sealed);
	ck_assert_int_eq(tryst_unseal(key, epoch, sealed, n, out, sizeof out, &out_len), 0);
	ck_assert_uint_eq(out_len, rec_len);

	/* a non-zero padding byte */
	body[255] = 1;
	n = seal_body(body, 256, sealed);
	ck_assert_int_eq(tryst_unseal(key, epoch, sealed, n, out, sizeof out, &out_len),
	                 TRYST_ERR_SEAL_PADDING);
	body[255] = 0;
	/* inner length 0, past the body, over the record maximum */
	static const uint16_t lens[] = {0, 255, 700, 0xffff};
	for (size_t i = 0; i < TRST_ARRAY_LEN(lens); i++) {
		trst_put_u16(body, lens[i]);
		n = seal_body(body, 256, sealed);
		ck_assert_int_eq(tryst_unseal(key, epoch, sealed, n, out, sizeof out, &out_len),
		                 TRYST_ERR_SEAL_PADDING);
	}
	/* more padding blocks than the length needs */
	trst_put_u16(body, (uint16_t)rec_len);
	n = seal_body(body, 512, sealed);
	ck_assert_int_eq(tryst_unseal(key, epoch, sealed, n, out, sizeof out, &out_len),
	                 TRYST_ERR_SEAL_PADDING);
	/* a body bigger than any sealed record (1024) */
	n = seal_body(body, 768, sealed);
	ck_assert_uint_eq(n, TRYST_SEAL_MAX_SIZE);
	ck_assert_int_eq(tryst_unseal(key, epoch, sealed, n + 256, out, sizeof out, &out_len),
	                 TRYST_ERR_SEAL_PADDING);
}
END_TEST

START_TEST(test_fixed_nonce_deterministic)
{
	uint8_t nonce[24], s1[TRYST_SEAL_MAX_SIZE], s2[TRYST_SEAL_MAX_SIZE];
	size_t l1, l2;
	memset(nonce, 7, sizeof nonce);
	ck_assert_int_eq(tryst_seal(key, epoch, rec, rec_len, nonce, s1, sizeof s1, &l1), 0);
	ck_assert_int_eq(tryst_seal(key, epoch, rec, rec_len, nonce, s2, sizeof s2, &l2), 0);
	ck_assert_uint_eq(l1, l2);
	ck_assert_mem_eq(s1, s2, l1);
	ck_assert_mem_eq(s1 + 1, nonce, 24);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("seal");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_pointer_rotation);
	tcase_add_test(tc, test_epochs);
	tcase_add_test(tc, test_seal_roundtrip);
	tcase_add_test(tc, test_seal_hides);
	tcase_add_test(tc, test_seal_sizes);
	tcase_add_test(tc, test_unseal_wrong_key_epoch);
	tcase_add_test(tc, test_unseal_tamper_truncate);
	tcase_add_test(tc, test_unseal_bad_padding);
	tcase_add_test(tc, test_fixed_nonce_deterministic);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
