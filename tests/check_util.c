/* check_util.c: error strings, logging, allocation, integer and hex codecs. */
#include "testutil.h"

START_TEST(test_strerror_distinct)
{
	/* Every code in the enum has its own sentence. */
	static const int codes[] = {TRYST_OK,
	                            TRYST_ERR_INVALID,
	                            TRYST_ERR_NOMEM,
	                            TRYST_ERR_BUFFER,
	                            TRYST_ERR_CRYPTO,
	                            TRYST_ERR_SYSTEM,
	                            TRYST_ERR_KEY_LENGTH,
	                            TRYST_ERR_KEY_CHAR,
	                            TRYST_ERR_KEY_CHECKSUM,
	                            TRYST_ERR_KEY_INVALID,
	                            TRYST_ERR_FILE_OPEN,
	                            TRYST_ERR_FILE_EXISTS,
	                            TRYST_ERR_FILE_PERMS,
	                            TRYST_ERR_FILE_FORMAT,
	                            TRYST_ERR_FILE_SIZE,
	                            TRYST_ERR_FILE_MISMATCH,
	                            TRYST_ERR_RECORD_TRUNCATED,
	                            TRYST_ERR_RECORD_VERSION,
	                            TRYST_ERR_RECORD_OVERSIZE,
	                            TRYST_ERR_RECORD_TOO_MANY,
	                            TRYST_ERR_RECORD_MALFORMED,
	                            TRYST_ERR_RECORD_SIGNATURE,
	                            TRYST_ERR_RECORD_WRONG_KEY,
	                            TRYST_ERR_RECORD_EXPIRED,
	                            TRYST_ERR_RECORD_STALE,
	                            TRYST_ERR_RECORD_FUTURE,
	                            TRYST_ERR_SEAL_TRUNCATED,
	                            TRYST_ERR_SEAL_VERSION,
	                            TRYST_ERR_SEAL_OPEN,
	                            TRYST_ERR_SEAL_PADDING,
	                            TRYST_ERR_AGAIN,
	                            TRYST_ERR_MSGSIZE,
	                            TRYST_ERR_UNREACHABLE,
	                            TRYST_ERR_ADDRINUSE,
	                            TRYST_ERR_FAMILY};
	const char *unknown = tryst_strerror(12345);
	for (size_t i = 0; i < TRST_ARRAY_LEN(codes); i++) {
		ck_assert_ptr_nonnull(tryst_strerror(codes[i]));
		ck_assert_str_ne(tryst_strerror(codes[i]), unknown);
		for (size_t j = 0; j < i; j++)
			ck_assert_str_ne(tryst_strerror(codes[i]), tryst_strerror(codes[j]));
	}
	ck_assert_str_eq(unknown, "unknown error");
}
END_TEST

START_TEST(test_version)
{
	ck_assert_str_eq(tryst_version(), PACKAGE_VERSION);
	ck_assert_int_eq(tryst_init(), 0);
	ck_assert_int_eq(tryst_init(), 0);
}
END_TEST

static int log_calls, log_last_level;
static char log_last[256];
static void *log_user_seen;

static void log_cb(int level, const char *msg, void *user)
{
	log_calls++;
	log_last_level = level;
	log_user_seen = user;
	snprintf(log_last, sizeof log_last, "%s", msg);
}

START_TEST(test_log_levels)
{
	int marker;

	/* Silent by default: nothing is delivered anywhere. */
	ck_assert(!trst_log_enabled(TRYST_LOG_ERROR));
	trst_log(TRYST_LOG_ERROR, "nobody hears this");

	tryst_log_set(log_cb, TRYST_LOG_INFO, &marker);
	TRST_LOG(TRYST_LOG_DEBUG, "too detailed %d", 1);
	ck_assert_int_eq(log_calls, 0);
	TRST_LOG(TRYST_LOG_WARN, "value %d of %s", 42, "x");
	ck_assert_int_eq(log_calls, 1);
	ck_assert_int_eq(log_last_level, TRYST_LOG_WARN);
	ck_assert_str_eq(log_last, "value 42 of x");
	ck_assert_ptr_eq(log_user_seen, &marker);

	tryst_log_set(NULL, TRYST_LOG_TRACE, NULL);
	TRST_LOG(TRYST_LOG_ERROR, "silent again");
	ck_assert_int_eq(log_calls, 1);
}
END_TEST

START_TEST(test_calloc)
{
	unsigned char *p = trst_calloc(16, 4);
	ck_assert_ptr_nonnull(p);
	for (int i = 0; i < 64; i++)
		ck_assert_int_eq(p[i], 0);
	trst_free(p);
	/* count * size overflows: refused, not a short allocation. */
	ck_assert_ptr_null(trst_calloc(SIZE_MAX / 2, 4));
	p = trst_calloc(0, 0); /* never NULL for zero: callers treat NULL as ENOMEM */
	ck_assert_ptr_nonnull(p);
	trst_free(p);
	trst_free(NULL);
}
END_TEST

START_TEST(test_ints)
{
	uint8_t b[8];
	trst_put_u16(b, 0x1234);
	ck_assert_int_eq(b[0], 0x12);
	ck_assert_int_eq(b[1], 0x34);
	ck_assert_uint_eq(trst_get_u16(b), 0x1234);
	trst_put_u32(b, 0xdeadbeef);
	ck_assert_uint_eq(trst_get_u32(b), 0xdeadbeef);
	ck_assert_int_eq(b[0], 0xde);
	trst_put_u64(b, 0x0102030405060708ull);
	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(b[i], i + 1);
	ck_assert(trst_get_u64(b) == 0x0102030405060708ull);
}
END_TEST

START_TEST(test_hex)
{
	uint8_t in[] = {0x00, 0x7f, 0xab, 0xff}, out[4];
	char text[9];
	trst_hex_encode(in, 4, text);
	ck_assert_str_eq(text, "007fabff");
	ck_assert_int_eq(trst_hex_decode("007FabfF", 8, out, sizeof out), 4);
	ck_assert_mem_eq(in, out, 4);
	ck_assert_int_eq(trst_hex_decode("007", 3, out, sizeof out), -1);         /* odd */
	ck_assert_int_eq(trst_hex_decode("0g", 2, out, sizeof out), -1);          /* not hex */
	ck_assert_int_eq(trst_hex_decode("0011223344", 10, out, sizeof out), -1); /* too long */
}
END_TEST

START_TEST(test_now)
{
	uint64_t a = tryst_now_us(), b = tryst_now_us();
	ck_assert(b >= a);
	ck_assert(a > T0_US - 86400ull * 1000000 * 365 * 10); /* a real clock, in µs */
}
END_TEST

int main(void)
{
	Suite *s = suite_create("util");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_strerror_distinct);
	tcase_add_test(tc, test_version);
	tcase_add_test(tc, test_log_levels);
	tcase_add_test(tc, test_calloc);
	tcase_add_test(tc, test_ints);
	tcase_add_test(tc, test_hex);
	tcase_add_test(tc, test_now);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
