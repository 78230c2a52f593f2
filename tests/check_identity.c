/* check_identity.c: identities and the identity file: create, save, load,
 * and every way a file can be wrong. */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#define FILE_LEN 154 /* header 18 + secret line 72 + public line 64 */

static char dir[64], path[PATH_MAX];

static void setup(void)
{
	snprintf(dir, sizeof dir, "/tmp/tryst-check-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/identity", dir);
}

static void teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static size_t read_file(const char *p, char *buf, size_t cap)
{
	FILE *f = fopen(p, "rb");
	ck_assert_ptr_nonnull(f);
	size_t n = fread(buf, 1, cap, f);
	fclose(f);
	return n;
}

static void write_file(const char *p, const char *buf, size_t len, mode_t mode)
{
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, buf, len), (ssize_t)len);
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
}

START_TEST(test_generate_distinct)
{
	tryst_identity *a, *b;
	uint8_t ka[32], kb[32];
	ck_assert_int_eq(tryst_identity_generate(&a), 0);
	ck_assert_int_eq(tryst_identity_generate(&b), 0);
	tryst_identity_public_key(a, ka);
	tryst_identity_public_key(b, kb);
	ck_assert_mem_ne(ka, kb, 32);
	tryst_identity_free(a);
	tryst_identity_free(b);
	tryst_identity_free(NULL);
}
END_TEST

START_TEST(test_seed_deterministic_and_signs)
{
	tryst_identity *a = tu_identity(1), *b = tu_identity(1);
	uint8_t ka[32], kb[32], sig[64];
	const uint8_t msg[] = "hello";
	tryst_identity_public_key(a, ka);
	tryst_identity_public_key(b, kb);
	ck_assert_mem_eq(ka, kb, 32);
	tryst_identity_sign(a, msg, sizeof msg, sig);
	ck_assert_int_eq(crypto_sign_verify_detached(sig, msg, sizeof msg, ka), 0);
	sig[0] ^= 1;
	ck_assert_int_ne(crypto_sign_verify_detached(sig, msg, sizeof msg, ka), 0);
	tryst_identity_free(a);
	tryst_identity_free(b);
}
END_TEST

START_TEST(test_save_load)
{
	tryst_identity *id = tu_identity(3), *back = NULL;
	uint8_t k1[32], k2[32];
	struct stat st;
	char text[512], keytext[TRYST_KEY_TEXT_LEN + 1];

	ck_assert_int_eq(tryst_identity_save(id, path, 0), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0600);
	ck_assert_int_eq(st.st_size, FILE_LEN);
	ck_assert_int_eq(tryst_identity_load(path, &back), 0);
	tryst_identity_public_key(id, k1);
	tryst_identity_public_key(back, k2);
	ck_assert_mem_eq(k1, k2, 32);
	/* The file says whose key it is in the clear. */
	size_t n = read_file(path, text, sizeof text - 1);
	text[n] = '\0';
	tryst_key_to_text(k1, keytext);
	ck_assert_ptr_nonnull(strstr(text, keytext));
	ck_assert(strncmp(text, "tryst-identity-v1\nsecret ", 25) == 0);
	/* No temporary file is left behind. */
	char cmd[256];
	snprintf(cmd, sizeof cmd, "test $(ls -A '%s' | wc -l) -eq 1", dir);
	ck_assert_int_eq(system(cmd), 0);
	tryst_identity_free(id);
	tryst_identity_free(back);
}
END_TEST

START_TEST(test_no_overwrite)
{
	tryst_identity *a = tu_identity(4), *b = tu_identity(5), *back;
	char before[512], after[512];
	uint8_t ka[32], kb[32], kback[32];

	ck_assert_int_eq(tryst_identity_save(a, path, 0), 0);
	size_t n1 = read_file(path, before, sizeof before);
	ck_assert_int_eq(tryst_identity_save(b, path, 0), TRYST_ERR_FILE_EXISTS);
	size_t n2 = read_file(path, after, sizeof after);
	ck_assert_uint_eq(n1, n2);
	ck_assert_mem_eq(before, after, n1);
	/* With overwrite it is replaced, still 0600. */
	ck_assert_int_eq(tryst_identity_save(b, path, TRYST_SAVE_OVERWRITE), 0);
	ck_assert_int_eq(tryst_identity_load(path, &back), 0);
	tryst_identity_public_key(a, ka);
	tryst_identity_public_key(b, kb);
	tryst_identity_public_key(back, kback);
	ck_assert_mem_eq(kb, kback, 32);
	ck_assert_mem_ne(ka, kback, 32);
	tryst_identity_free(a);
	tryst_identity_free(b);
	tryst_identity_free(back);
}
END_TEST

START_TEST(test_mkdirs)
{
	char deep[PATH_MAX], sub[PATH_MAX];
	struct stat st;
	tryst_identity *id = tu_identity(6);
	snprintf(deep, sizeof deep, "%s/a/b/identity", dir);
	ck_assert_int_eq(tryst_identity_save(id, deep, 0), TRYST_ERR_FILE_OPEN);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_int_eq(tryst_identity_save(id, deep, TRYST_SAVE_MKDIRS), 0);
	snprintf(sub, sizeof sub, "%s/a/b", dir);
	ck_assert_int_eq(stat(sub, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0700);
	tryst_identity_free(id);
}
END_TEST

START_TEST(test_refuse_readable)
{
	static const mode_t modes[] = {0644, 0640, 0604, 0660, 0666, 0601, 0610};
	tryst_identity *id = tu_identity(8), *back = NULL;
	ck_assert_int_eq(tryst_identity_save(id, path, 0), 0);
	for (size_t i = 0; i < TRST_ARRAY_LEN(modes); i++) {
		ck_assert_int_eq(chmod(path, modes[i]), 0);
		ck_assert_int_eq(tryst_identity_load(path, &back), TRYST_ERR_FILE_PERMS);
		ck_assert_ptr_null(back);
	}
	ck_assert_int_eq(chmod(path, 0400), 0);
	ck_assert_int_eq(tryst_identity_load(path, &back), 0);
	tryst_identity_free(back);
	tryst_identity_free(id);
}
END_TEST

START_TEST(test_every_truncation)
{
	tryst_identity *id = tu_identity(9), *back = NULL;
	char good[FILE_LEN + 1], bad[PATH_MAX];
	ck_assert_int_eq(tryst_identity_save(id, path, 0), 0);
	ck_assert_uint_eq(read_file(path, good, sizeof good), FILE_LEN);
	snprintf(bad, sizeof bad, "%s/bad", dir);
	for (size_t n = 0; n < FILE_LEN; n++) {
		write_file(bad, good, n, 0600);
		ck_assert_int_eq(tryst_identity_load(bad, &back), TRYST_ERR_FILE_SIZE);
	}
	/* one byte too many */
	char longer[FILE_LEN + 1];
	memcpy(longer, good, FILE_LEN);
	longer[FILE_LEN] = '\n';
	write_file(bad, longer, FILE_LEN + 1, 0600);
	ck_assert_int_eq(tryst_identity_load(bad, &back), TRYST_ERR_FILE_SIZE);
	ck_assert_ptr_null(back);
	tryst_identity_free(id);
}
END_TEST

START_TEST(test_corrupt)
{
	tryst_identity *id = tu_identity(10), *other = tu_identity(11), *back = NULL;
	char good[FILE_LEN + 1], buf[FILE_LEN + 1], bad[PATH_MAX];
	char otherkey[TRYST_KEY_TEXT_LEN + 1];
	uint8_t ko[32];

	ck_assert_int_eq(tryst_identity_save(id, path, 0), 0);
	ck_assert_uint_eq(read_file(path, good, sizeof good), FILE_LEN);
	snprintf(bad, sizeof bad, "%s/bad", dir);

	/* Wrong header */
	memcpy(buf, good, FILE_LEN);
	buf[6] = 'X';
	write_file(bad, buf, FILE_LEN, 0600);
	ck_assert_int_eq(tryst_identity_load(bad, &back), TRYST_ERR_FILE_FORMAT);
	/* Non-hex in the secret */
	memcpy(buf, good, FILE_LEN);
	buf[18 + 7 + 5] = 'z';
	write_file(bad, buf, FILE_LEN, 0600);
	ck_assert_int_eq(tryst_identity_load(bad, &back), TRYST_ERR_FILE_FORMAT);
	/* A different but valid hex digit in the secret: the public line no
	 * longer matches. */
	memcpy(buf, good, FILE_LEN);
	buf[18 + 7 + 5] = buf[18 + 7 + 5] == '0' ? '1' : '0';
	write_file(bad, buf, FILE_LEN, 0600);
	ck_assert_int_eq(tryst_identity_load(bad, &back), TRYST_ERR_FILE_MISMATCH);
	/* Someone else's valid key on the public line */
	memcpy(buf, good, FILE_LEN);
	tryst_identity_public_key(other, ko);
	tryst_key_to_text(ko, otherkey);
	memcpy(buf + 18 + 72 + 7, otherkey, TRYST_KEY_TEXT_LEN);
	write_file(bad, buf, FILE_LEN, 0600);
	ck_assert_int_eq(tryst_identity_load(bad, &back), TRYST_ERR_FILE_MISMATCH);
	/* A typo on the public line */
	memcpy(buf, good, FILE_LEN);
	buf[18 + 72 + 7 + 3] = buf[18 + 72 + 7 + 3] == 'y' ? 'b' : 'y';
	write_file(bad, buf, FILE_LEN, 0600);
	ck_assert_int_eq(tryst_identity_load(bad, &back), TRYST_ERR_FILE_FORMAT);
	/* Lines glued together (newline replaced) */
	memcpy(buf, good, FILE_LEN);
	buf[17] = ' ';
	write_file(bad, buf, FILE_LEN, 0600);
	ck_assert_int_eq(tryst_identity_load(bad, &back), TRYST_ERR_FILE_FORMAT);
	/* Random bytes of the right size */
	uint8_t rnd[FILE_LEN];
	randombytes_buf(rnd, sizeof rnd);
	write_file(bad, (char *)rnd, FILE_LEN, 0600);
	ck_assert_int_eq(tryst_identity_load(bad, &back), TRYST_ERR_FILE_FORMAT);
	/* Every single byte changed: never loads as a (different) identity. */
	for (size_t i = 0; i < FILE_LEN; i++) {
		memcpy(buf, good, FILE_LEN);
		buf[i] ^= 0x20;
		write_file(bad, buf, FILE_LEN, 0600);
		int rc = tryst_identity_load(bad, &back);
		if (rc == 0) {
			/* only a case change in hex or key text is harmless */
			uint8_t k1[32], k2[32];
			tryst_identity_public_key(id, k1);
			tryst_identity_public_key(back, k2);
			ck_assert_mem_eq(k1, k2, 32);
			ck_assert_uint_ge(i, 18 + 7);
			tryst_identity_free(back);
			back = NULL;
		}
	}
	ck_assert_ptr_null(back);
	tryst_identity_free(id);
	tryst_identity_free(other);
}
END_TEST

START_TEST(test_open_errors)
{
	tryst_identity *back = NULL;
	char missing[PATH_MAX];
	snprintf(missing, sizeof missing, "%s/missing", dir);
	ck_assert_int_eq(tryst_identity_load(missing, &back), TRYST_ERR_FILE_OPEN);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_int_eq(tryst_identity_load(dir, &back), TRYST_ERR_FILE_OPEN);
	ck_assert_int_eq(errno, EISDIR);
	ck_assert_int_eq(tryst_identity_load(NULL, &back), TRYST_ERR_INVALID);
	ck_assert_ptr_null(back);
}
END_TEST

START_TEST(test_default_path)
{
	char p[PATH_MAX];
	setenv("XDG_CONFIG_HOME", "/xdg", 1);
	setenv("HOME", "/home/u", 1);
	ck_assert_int_eq(tryst_identity_default_path(p, sizeof p), 0);
	ck_assert_str_eq(p, "/xdg/tryst/identity");
	setenv("XDG_CONFIG_HOME", "relative", 1); /* ignored, as the spec says */
	ck_assert_int_eq(tryst_identity_default_path(p, sizeof p), 0);
	ck_assert_str_eq(p, "/home/u/.config/tryst/identity");
	unsetenv("XDG_CONFIG_HOME");
	ck_assert_int_eq(tryst_identity_default_path(p, sizeof p), 0);
	ck_assert_str_eq(p, "/home/u/.config/tryst/identity");
	ck_assert_int_eq(tryst_identity_default_path(p, 10), TRYST_ERR_BUFFER);
	unsetenv("HOME");
	ck_assert_int_eq(tryst_identity_default_path(p, sizeof p), TRYST_ERR_INVALID);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("identity");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_generate_distinct);
	tcase_add_test(tc, test_seed_deterministic_and_signs);
	tcase_add_test(tc, test_save_load);
	tcase_add_test(tc, test_no_overwrite);
	tcase_add_test(tc, test_mkdirs);
	tcase_add_test(tc, test_refuse_readable);
	tcase_add_test(tc, test_every_truncation);
	tcase_add_test(tc, test_corrupt);
	tcase_add_test(tc, test_open_errors);
	tcase_add_test(tc, test_default_path);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
