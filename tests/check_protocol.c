/*
 * check_protocol.c: checks the test vectors in doc/PROTOCOL.md against the
 * library, read straight from the document (tests/vectors.h), so the
 * specification and the code cannot disagree.
 */
#include "testutil.h"
#include "vectors.h"

#include <ctype.h>
#include <limits.h>
#include <unistd.h>

#include <sodium.h>

static tryst_identity *identity_of(const struct tv_block *b)
{
	uint8_t seed[32];
	tryst_identity *id;
	ck_assert_uint_eq(tv_get_hex(b, "seed", seed, sizeof seed), 32);
	ck_assert_int_eq(tryst_identity_from_seed(seed, &id), 0);
	return id;
}

START_TEST(test_all_types_present)
{
	static const char *types[] = {"keytext", "identity-file", "record", "pointer", "seal"};
	tv_load("doc/PROTOCOL.md");
	for (size_t i = 0; i < TRST_ARRAY_LEN(types); i++)
		ck_assert_msg(tv_count_type(types[i]) >= 1, "no '%s' vector in PROTOCOL.md",
		              types[i]);
}
END_TEST

START_TEST(test_keytext)
{
	tv_load("doc/PROTOCOL.md");
	for (int i = 0; i < tv_n_blocks; i++) {
		const struct tv_block *b = &tv_blocks[i];
		if (strcmp(tv_get(b, "type"), "keytext") != 0)
			continue;
		tryst_identity *id = identity_of(b);
		uint8_t pk[32], want[32], sum[3], h[32], back[32];
		char text[TRYST_KEY_TEXT_LEN + 1], upper[TRYST_KEY_TEXT_LEN + 1];
		tryst_identity_public_key(id, pk);
		tv_get_hex(b, "public", want, sizeof want);
		ck_assert_mem_eq(pk, want, 32);
		/* the checksum, computed here from its definition */
		tu_blake2b(h, 32, "tryst/key/v1", pk, 32, NULL, 0);
		tv_get_hex(b, "checksum", sum, sizeof sum);
		ck_assert_mem_eq(h, sum, 3);
		tryst_key_to_text(pk, text);
		ck_assert_str_eq(text, tv_get(b, "text"));
		for (int j = 0; j <= TRYST_KEY_TEXT_LEN; j++)
			upper[j] = (char)toupper((unsigned char)text[j]);
		ck_assert_int_eq(tryst_key_from_text(upper, back, NULL), 0);
		ck_assert_mem_eq(back, pk, 32);
		tryst_identity_free(id);
	}
}
END_TEST

START_TEST(test_identity_file)
{
	tv_load("doc/PROTOCOL.md");
	for (int i = 0; i < tv_n_blocks; i++) {
		const struct tv_block *b = &tv_blocks[i];
		if (strcmp(tv_get(b, "type"), "identity-file") != 0)
			continue;
		char dir[] = "/tmp/tryst-vec-XXXXXX", path[PATH_MAX], want[512] = "", got[512];
		ck_assert_ptr_nonnull(mkdtemp(dir));
		snprintf(path, sizeof path, "%s/identity", dir);
		tryst_identity *id = identity_of(b), *back;
		ck_assert_int_eq(tryst_identity_save(id, path, 0), 0);
		for (int j = 0; tv_get_nth(b, "line", j); j++) {
			strcat(want, tv_get_nth(b, "line", j));
			strcat(want, "\n");
		}
		FILE *f = fopen(path, "r");
		size_t n = fread(got, 1, sizeof got - 1, f);
		fclose(f);
		got[n] = '\0';
		ck_assert_str_eq(got, want);
		ck_assert_int_eq(tryst_identity_load(path, &back), 0);
		tryst_identity_free(back);
		tryst_identity_free(id);
		unlink(path);
		rmdir(dir);
	}
}
END_TEST

static uint8_t kind_of(const char *word)
{
	if (strcmp(word, "host") == 0)
		return TRYST_CAND_HOST;
	if (strcmp(word, "srflx") == 0)
		return TRYST_CAND_SRFLX;
	if (strcmp(word, "relay") == 0)
		return TRYST_CAND_RELAY;
	ck_abort_msg("unknown candidate kind %s", word);
	return 0;
}

START_TEST(test_record)
{
	tv_load("doc/PROTOCOL.md");
	for (int i = 0; i < tv_n_blocks; i++) {
		const struct tv_block *b = &tv_blocks[i];
		if (strcmp(tv_get(b, "type"), "record") != 0)
			continue;
		tryst_identity *id = identity_of(b);
		uint8_t want[TRYST_RECORD_MAX_SIZE], got[TRYST_RECORD_MAX_SIZE], pk[32], nat;
		size_t want_len = tv_get_hex(b, "record", want, sizeof want), got_len;
		tryst_record r, dec;

		/* Build the record from the fields the vector lists... */
		memset(&r, 0, sizeof r);
		r.seq = tv_get_u64(b, "seq");
		r.ttl = (uint32_t)tv_get_u64(b, "ttl");
		ck_assert_uint_eq(tv_get_hex(b, "nat", &nat, 1), 1);
		r.nat = nat;
		for (int j = 0; tv_get_nth(b, "candidate", j); j++) {
			char kind[16], ip[64];
			unsigned port;
			ck_assert_int_eq(
			    sscanf(tv_get_nth(b, "candidate", j), "%15s %63s %u", kind, ip, &port),
			    3);
			r.candidates[j].kind = kind_of(kind);
			tu_addr(&r.candidates[j].addr, ip, (uint16_t)port);
			r.n_candidates++;
		}
		for (int j = 0; tv_get_nth(b, "server", j); j++) {
			char key[80], ip[64];
			unsigned port;
			ck_assert_int_eq(
			    sscanf(tv_get_nth(b, "server", j), "%79s %63s %u", key, ip, &port), 3);
			ck_assert_int_eq(trst_hex_decode(key, strlen(key), r.servers[j].key, 32),
			                 32);
			tu_addr(&r.servers[j].addr, ip, (uint16_t)port);
			r.n_servers++;
		}
		r.app_len = (uint8_t)tv_get_hex(b, "app", r.app, sizeof r.app);
		/* ...and it encodes to exactly the listed bytes... */
		ck_assert_int_eq(tryst_record_encode(&r, id, got, sizeof got, &got_len), 0);
		ck_assert_uint_eq(got_len, want_len);
		ck_assert_mem_eq(got, want, want_len);
		/* ...which decode back to the fields. */
		tryst_identity_public_key(id, pk);
		ck_assert_int_eq(tryst_record_decode(want, want_len, pk, 0, r.seq, &dec), 0);
		ck_assert(dec.seq == r.seq);
		ck_assert_uint_eq(dec.ttl, r.ttl);
		ck_assert_uint_eq(dec.nat, r.nat);
		ck_assert_uint_eq(dec.n_candidates, r.n_candidates);
		ck_assert_uint_eq(dec.n_servers, r.n_servers);
		ck_assert_uint_eq(dec.app_len, r.app_len);
		ck_assert_mem_eq(dec.app, r.app, r.app_len);
		tryst_identity_free(id);
	}
}
END_TEST

START_TEST(test_pointer)
{
	tv_load("doc/PROTOCOL.md");
	for (int i = 0; i < tv_n_blocks; i++) {
		const struct tv_block *b = &tv_blocks[i];
		if (strcmp(tv_get(b, "type"), "pointer") != 0)
			continue;
		uint8_t pk[32], want[20], got[20];
		uint64_t epoch = tv_get_u64(b, "epoch");
		tv_get_hex(b, "public", pk, sizeof pk);
		tv_get_hex(b, "record-pointer", want, sizeof want);
		tryst_pointer(TRYST_POINTER_RECORD, pk, epoch, got);
		ck_assert_mem_eq(got, want, 20);
		tv_get_hex(b, "next-record-pointer", want, sizeof want);
		tryst_pointer(TRYST_POINTER_RECORD, pk, epoch + 1, got);
		ck_assert_mem_eq(got, want, 20);
		tv_get_hex(b, "inbox-pointer", want, sizeof want);
		tryst_pointer(TRYST_POINTER_INBOX, pk, epoch, got);
		ck_assert_mem_eq(got, want, 20);
		ck_assert(tryst_epoch_of(T0_US / 1000000) == epoch);
	}
}
END_TEST

START_TEST(test_seal)
{
	tv_load("doc/PROTOCOL.md");
	for (int i = 0; i < tv_n_blocks; i++) {
		const struct tv_block *b = &tv_blocks[i];
		if (strcmp(tv_get(b, "type"), "seal") != 0)
			continue;
		uint8_t pk[32], key[32], k[32], ad[21], nonce[24], body[1024], sealed[1024],
		    got[1024], opened[1024];
		size_t body_len, sealed_len, got_len, opened_len;
		uint64_t epoch = tv_get_u64(b, "epoch");

		tv_get_hex(b, "public", pk, sizeof pk);
		tv_get_hex(b, "seal-key", key, sizeof key);
		ck_assert_uint_eq(tv_get_hex(b, "ad", ad, sizeof ad), 21);
		tv_get_hex(b, "nonce", nonce, sizeof nonce);
		body_len = tv_get_hex(b, "body", body, sizeof body);
		sealed_len = tv_get_hex(b, "sealed", sealed, sizeof sealed);

		/* seal key and ad from their definitions */
		tu_seal_key(pk, epoch, k);
		ck_assert_mem_eq(k, key, 32);
		uint8_t ptr[20];
		tryst_pointer(TRYST_POINTER_RECORD, pk, epoch, ptr);
		ck_assert_int_eq(ad[0], 1);
		ck_assert_mem_eq(ad + 1, ptr, 20);
		/* the listed ciphertext is the AEAD of the listed body */
		unsigned long long plen;
		ck_assert_int_eq(sealed[0], 1);
		ck_assert_mem_eq(sealed + 1, nonce, 24);
		ck_assert_int_eq(crypto_aead_xchacha20poly1305_ietf_decrypt(
		                     opened, &plen, NULL, sealed + 25, sealed_len - 25, ad,
		                     sizeof ad, nonce, key),
		                 0);
		ck_assert_uint_eq(plen, body_len);
		ck_assert_mem_eq(opened, body, body_len);
		/* the library seals the body's record to exactly these bytes */
		size_t rec_len = trst_get_u16(body);
		ck_assert_int_eq(
		    tryst_seal(pk, epoch, body + 2, rec_len, nonce, got, sizeof got, &got_len), 0);
		ck_assert_uint_eq(got_len, sealed_len);
		ck_assert_mem_eq(got, sealed, sealed_len);
		ck_assert_int_eq(
		    tryst_unseal(pk, epoch, sealed, sealed_len, opened, sizeof opened, &opened_len),
		    0);
		ck_assert_uint_eq(opened_len, rec_len);
		ck_assert_mem_eq(opened, body + 2, rec_len);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("protocol");
	TCase *tc = tcase_create("vectors");
	tcase_add_test(tc, test_all_types_present);
	tcase_add_test(tc, test_keytext);
	tcase_add_test(tc, test_identity_file);
	tcase_add_test(tc, test_record);
	tcase_add_test(tc, test_pointer);
	tcase_add_test(tc, test_seal);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
