/* check_keytext.c: the public key text form: round trip, case, typos. */
#include "testutil.h"

#include <ctype.h>

static const char alphabet[] = "ybndrfg8ejkmcpqxot1uwisza345h769";
static uint8_t key[TRYST_KEY_SIZE];
static char text[TRYST_KEY_TEXT_LEN + 1];

static void setup(void)
{
	tryst_identity *id = tu_identity(7);
	tryst_identity_public_key(id, key);
	tryst_identity_free(id);
	tryst_key_to_text(key, text);
}

START_TEST(test_roundtrip)
{
	uint8_t back[TRYST_KEY_SIZE];
	ck_assert_uint_eq(strlen(text), TRYST_KEY_TEXT_LEN);
	for (size_t i = 0; i < TRYST_KEY_TEXT_LEN; i++)
		ck_assert_ptr_nonnull(strchr(alphabet, text[i]));
	ck_assert_int_eq(tryst_key_from_text(text, back, NULL), 0);
	ck_assert_mem_eq(back, key, sizeof key);
}
END_TEST

START_TEST(test_many_keys)
{
	/* Random identities: every text decodes to its key. */
	for (int i = 0; i < 200; i++) {
		tryst_identity *id;
		uint8_t k[TRYST_KEY_SIZE], back[TRYST_KEY_SIZE];
		char t[TRYST_KEY_TEXT_LEN + 1];
		ck_assert_int_eq(tryst_identity_generate(&id), 0);
		tryst_identity_public_key(id, k);
		tryst_identity_free(id);
		tryst_key_to_text(k, t);
		ck_assert_int_eq(tryst_key_from_text(t, back, NULL), 0);
		ck_assert_mem_eq(back, k, sizeof k);
	}
}
END_TEST

START_TEST(test_case_insensitive)
{
	char upper[TRYST_KEY_TEXT_LEN + 1];
	uint8_t back[TRYST_KEY_SIZE];
	for (size_t i = 0; i <= TRYST_KEY_TEXT_LEN; i++)
		upper[i] = (char)toupper((unsigned char)text[i]);
	ck_assert_int_eq(tryst_key_from_text(upper, back, NULL), 0);
	ck_assert_mem_eq(back, key, sizeof key);
}
END_TEST

START_TEST(test_wrong_length)
{
	char buf[TRYST_KEY_TEXT_LEN + 8];
	uint8_t back[TRYST_KEY_SIZE];

	memset(back, 0xaa, sizeof back);
	ck_assert_int_eq(tryst_key_from_text("", back, NULL), TRYST_ERR_KEY_LENGTH);
	for (size_t n = 1; n < TRYST_KEY_TEXT_LEN; n++) {
		memcpy(buf, text, n);
		buf[n] = '\0';
		ck_assert_int_eq(tryst_key_from_text(buf, back, NULL), TRYST_ERR_KEY_LENGTH);
	}
	snprintf(buf, sizeof buf, "%sy", text);
	ck_assert_int_eq(tryst_key_from_text(buf, back, NULL), TRYST_ERR_KEY_LENGTH);
	/* nothing was written on failure */
	for (size_t i = 0; i < sizeof back; i++)
		ck_assert_int_eq(back[i], 0xaa);
}
END_TEST

START_TEST(test_bad_char)
{
	/* Characters z-base-32 leaves out (0, l, v, 2), punctuation, space. */
	static const char bad[] = "0lv2 -_=+/\n\t!";
	char buf[TRYST_KEY_TEXT_LEN + 1];
	uint8_t back[TRYST_KEY_SIZE];
	size_t pos;

	for (size_t b = 0; b < sizeof bad - 1; b++) {
		for (size_t i = 0; i < TRYST_KEY_TEXT_LEN; i += 11) {
			memcpy(buf, text, sizeof buf);
			buf[i] = bad[b];
			pos = 999;
			ck_assert_int_eq(tryst_key_from_text(buf, back, &pos), TRYST_ERR_KEY_CHAR);
			ck_assert_uint_eq(pos, i);
		}
	}
	/* 8-bit characters are not letters either */
	memcpy(buf, text, sizeof buf);
	buf[3] = (char)0xe9;
	ck_assert_int_eq(tryst_key_from_text(buf, back, NULL), TRYST_ERR_KEY_CHAR);
}
END_TEST

START_TEST(test_every_substitution)
{
	/* Each position replaced by each other letter of the alphabet: never
	 * silently another key (55 * 31 = 1705 typos). */
	char buf[TRYST_KEY_TEXT_LEN + 1];
	uint8_t back[TRYST_KEY_SIZE];
	for (size_t i = 0; i < TRYST_KEY_TEXT_LEN; i++) {
		for (size_t a = 0; a < 32; a++) {
			if (alphabet[a] == text[i])
				continue;
			memcpy(buf, text, sizeof buf);
			buf[i] = alphabet[a];
			ck_assert_int_eq(tryst_key_from_text(buf, back, NULL),
			                 TRYST_ERR_KEY_CHECKSUM);
		}
	}
}
END_TEST

START_TEST(test_transpositions)
{
	char buf[TRYST_KEY_TEXT_LEN + 1];
	uint8_t back[TRYST_KEY_SIZE];
	for (size_t i = 0; i + 1 < TRYST_KEY_TEXT_LEN; i++) {
		if (text[i] == text[i + 1])
			continue;
		memcpy(buf, text, sizeof buf);
		buf[i] = text[i + 1];
		buf[i + 1] = text[i];
		ck_assert_int_eq(tryst_key_from_text(buf, back, NULL), TRYST_ERR_KEY_CHECKSUM);
	}
}
END_TEST

START_TEST(test_invalid_point)
{
	/* The all-zero key has a correct checksum but is a point of small
	 * order, useless as an identity: refused as such. */
	uint8_t zero[TRYST_KEY_SIZE] = {0}, back[TRYST_KEY_SIZE];
	char t[TRYST_KEY_TEXT_LEN + 1];
	tryst_key_to_text(zero, t);
	ck_assert_int_eq(tryst_key_from_text(t, back, NULL), TRYST_ERR_KEY_INVALID);
}
END_TEST

START_TEST(test_null_args)
{
	uint8_t back[TRYST_KEY_SIZE];
	ck_assert_int_eq(tryst_key_from_text(NULL, back, NULL), TRYST_ERR_INVALID);
	ck_assert_int_eq(tryst_key_from_text(text, NULL, NULL), TRYST_ERR_INVALID);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("keytext");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_roundtrip);
	tcase_add_test(tc, test_many_keys);
	tcase_add_test(tc, test_case_insensitive);
	tcase_add_test(tc, test_wrong_length);
	tcase_add_test(tc, test_bad_char);
	tcase_add_test(tc, test_every_substitution);
	tcase_add_test(tc, test_transpositions);
	tcase_add_test(tc, test_invalid_point);
	tcase_add_test(tc, test_null_args);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
