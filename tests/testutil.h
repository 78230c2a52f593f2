/*
 * testutil.h: helpers shared by the Check suites.
 */
#ifndef TRYST_TESTUTIL_H
#define TRYST_TESTUTIL_H

#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"
#include "tryst.h"

/* 2026-01-01T00:00:00Z in microseconds: the fixed "now" of the vectors. */
#define T0_US 1767225600000000ull

static inline void tu_addr(struct sockaddr_storage *ss, const char *ip, uint16_t port)
{
	memset(ss, 0, sizeof *ss);
	if (strchr(ip, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		ck_assert_int_eq(inet_pton(AF_INET6, ip, &s6->sin6_addr), 1);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		ck_assert_int_eq(inet_pton(AF_INET, ip, &s4->sin_addr), 1);
	}
}

/* An identity from a seed of 32 copies of `b`. */
static inline tryst_identity *tu_identity(uint8_t b)
{
	uint8_t seed[32];
	tryst_identity *id = NULL;
	memset(seed, b, sizeof seed);
	ck_assert_int_eq(tryst_identity_from_seed(seed, &id), 0);
	return id;
}

/* BLAKE2b-N(domain || a || b): the derivations of doc/PROTOCOL.md written
 * out independently of src/, so tests check the library against the
 * document rather than against itself.  b may be NULL. */
static inline void tu_blake2b(uint8_t *out, size_t outlen, const char *domain, const uint8_t *a,
                              size_t alen, const uint8_t *b, size_t blen)
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, outlen);
	crypto_generichash_update(&st, (const uint8_t *)domain, strlen(domain));
	crypto_generichash_update(&st, a, alen);
	if (b)
		crypto_generichash_update(&st, b, blen);
	crypto_generichash_final(&st, out, outlen);
}

/* The seal key of doc/PROTOCOL.md, "Sealing". */
static inline void tu_seal_key(const uint8_t key[32], uint64_t epoch, uint8_t out[32])
{
	uint8_t e[8];
	trst_put_u64(e, epoch);
	tu_blake2b(out, 32, "tryst/seal/v1", key, 32, e, 8);
}

/* Run one suite in fork mode (each test in its own process, so a crash is
 * a failure, not the end of the run); prints Check's count line. */
static inline int tu_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif
