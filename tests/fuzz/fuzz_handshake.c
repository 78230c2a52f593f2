/*
 * fuzz_handshake.c: libFuzzer harness for the handshake decoders: the
 * responder's initiation decoder and the initiator's response and
 * cookie-reply decoders.  The first byte picks a mode (low 3 bits) and
 * flags; the rest is the input:
 *   0  raw bytes as an initiation (flags: recompute mac1, under load, make
 *      mac2 from the harness address's cookie)
 *   1  raw bytes as a response (flags: recompute mac1, set the receiver
 *      index) to a handshake in progress
 *   2  raw bytes as a cookie reply (flag: set the receiver index)
 *   3  the bytes as the plaintext of an initiation's payload, encrypted
 *      genuinely (flags: put in alice's key, put in a fresh timestamp), so
 *      the payload parser and the success path run; a success is answered
 *   4  the bytes as a response's payload, encrypted genuinely: must be
 *      accepted, and come out the same, exactly when it fits
 *   5+ all three raw decoders on the same bytes
 * Nothing may crash, no reply may be larger than the packet it answers,
 * and nothing forged may be accepted (the seed corpus holds genuine
 * messages of alice's, which may be).
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "handshake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW    1767225600000000ull
#define MAX_IN 1024

static trst_hs_responder *bob_r;
static tryst_identity *alice;
static uint8_t alice_key[32], bob_key[32], a_sk[32], a_pk[32], b_pk[32];
static trst_hs init_hs; /* alice's handshake, awaiting bob's response */
static trst_hs resp_hs; /* bob's, having consumed it */
static const uint8_t addr[] = {4, 127, 0, 0, 1, 0x30, 0x39};
static struct trst_hs_cookie cookie; /* bob's for addr (now is fixed: no rotation) */
static uint64_t counter;

static void fix_mac1(uint8_t *msg, size_t off, const uint8_t receiver[32])
{
	uint8_t buf[13 + 32], k[32];
	memcpy(buf, "tryst/mac1/v1", 13);
	memcpy(buf + 13, receiver, 32);
	crypto_generichash(k, 32, buf, sizeof buf, NULL, 0);
	crypto_generichash(msg + off, 16, msg, off, k, 32);
}

static void setup(void)
{
	uint8_t seed[32], msg[TRST_HS_INITIATION_SIZE], reply[TRST_HS_COOKIE_REPLY_SIZE], b_sk[32];
	size_t len, reply_len;
	tryst_identity *bob;

	memset(seed, 0xa1, sizeof seed);
	if (tryst_identity_from_seed(seed, &alice) < 0)
		abort();
	memset(seed, 0xb0, sizeof seed);
	if (tryst_identity_from_seed(seed, &bob) < 0 || trst_hs_responder_new(&bob_r, bob, NOW) < 0)
		abort();
	tryst_identity_public_key(alice, alice_key);
	tryst_identity_public_key(bob, bob_key);
	if (trst_identity_x25519(alice, a_sk, a_pk) < 0 ||
	    trst_identity_x25519(bob, b_sk, b_pk) < 0)
		abort();
	if (trst_hs_initiate(&init_hs, alice, bob_key, 0x01020304, NULL, 0, NULL, NOW, msg,
	                     sizeof msg, &len) != 0 ||
	    trst_hs_responder_consume(bob_r, &resp_hs, msg, len, addr, sizeof addr, 0, NOW, reply,
	                              sizeof reply, &reply_len) != 0)
		abort();
	/* Ask for a cookie the way an initiator does, on a copy. */
	trst_hs tmp = init_hs;
	trst_hs scratch;
	if (trst_hs_resend(&tmp, NULL, NOW, msg, sizeof msg, &len) != 0 ||
	    trst_hs_responder_consume(bob_r, &scratch, msg, len, addr, sizeof addr, 1, NOW, reply,
	                              sizeof reply, &reply_len) != TRYST_ERR_HS_COOKIE ||
	    trst_hs_consume_cookie(&tmp, reply, reply_len, NOW, &cookie) != 0)
		abort();
	tryst_identity_free(bob);
}

/* The responder's decoder; checks the no-amplification rule. */
static int responder(const uint8_t *msg, size_t len, int load, trst_hs *hs)
{
	uint8_t reply[TRST_HS_COOKIE_REPLY_SIZE];
	size_t reply_len = 0;
	int rc = trst_hs_responder_consume(bob_r, hs, msg, len, addr, sizeof addr, load, NOW, reply,
	                                   sizeof reply, &reply_len);
	if (reply_len > len || (rc == TRYST_ERR_HS_COOKIE) != (reply_len != 0))
		abort();
	return rc;
}

static void raw_initiation(const uint8_t *in, size_t n, unsigned flags)
{
	uint8_t msg[MAX_IN];
	trst_hs hs;
	memcpy(msg, in, n);
	if (n == TRST_HS_INITIATION_SIZE) {
		msg[0] = TRST_HS_TYPE_INITIATION;
		if (flags & 1)
			fix_mac1(msg, 403, bob_key);
		if (flags & 4)
			crypto_generichash(msg + 419, 16, msg, 419, cookie.value, 16);
	}
	if (responder(msg, n, (flags & 2) != 0, &hs) == 0) {
		/* Only a genuine initiation gets here (the seed corpus holds
		 * alice's test vector): it must be alice's, and its answer
		 * must fit in it. */
		uint8_t out[TRST_HS_RESPONSE_MAX];
		struct trst_hs_result res;
		size_t len;
		if (memcmp(hs.peer, alice_key, 32) != 0 ||
		    trst_hs_respond(&hs, 7, msg, TRST_HS_PAYLOAD_MAX, out, sizeof out, &len,
		                    &res) ||
		    len > n)
			abort();
	}
}

static void raw_response(const uint8_t *in, size_t n, unsigned flags)
{
	uint8_t msg[MAX_IN];
	trst_hs hs = init_hs, before = init_hs;
	struct trst_hs_result res;
	memcpy(msg, in, n);
	if (n >= TRST_HS_RESPONSE_MIN && n <= TRST_HS_RESPONSE_MAX) {
		msg[0] = TRST_HS_TYPE_RESPONSE;
		if (flags & 2)
			trst_put_u32(msg + 5, init_hs.local_index);
		if (flags & 1) {
			fix_mac1(msg, n - 32, alice_key);
			memset(msg + n - 16, 0, 16);
		}
	}
	if (trst_hs_consume_response(&hs, msg, n, &res) == 0)
		abort(); /* would need bob's ephemeral and keys */
	if (memcmp(&hs, &before, sizeof hs) != 0)
		abort(); /* a refused message changes nothing */
}

static void raw_cookie(const uint8_t *in, size_t n, unsigned flags)
{
	uint8_t msg[MAX_IN];
	trst_hs hs = init_hs;
	struct trst_hs_cookie c = {0};
	memcpy(msg, in, n);
	if (n == TRST_HS_COOKIE_REPLY_SIZE) {
		msg[0] = TRST_HS_TYPE_COOKIE;
		if (flags & 1)
			trst_put_u32(msg + 1, init_hs.local_index);
	}
	if (trst_hs_consume_cookie(&hs, msg, n, NOW, &c) == 0)
		abort(); /* would need a Poly1305 forgery */
}

/* Mode 3: an initiation whose 302-byte payload plaintext is the input. */
static void crafted_initiation(const uint8_t *in, size_t n, unsigned flags)
{
	struct trst_noise ns;
	uint8_t plain[302] = {0}, e_sk[32], msg[TRST_HS_INITIATION_SIZE];
	uint8_t out[TRST_HS_RESPONSE_MAX];
	trst_hs hs;
	size_t len;
	struct trst_hs_result res;

	memcpy(plain, in, n < sizeof plain ? n : sizeof plain);
	if (flags & 1)
		memcpy(plain, alice_key, 32);
	if (flags & 2) {
		uint64_t t = NOW + ++counter;
		trst_put_u64(plain + 32, 0x400000000000000aull + t / 1000000u);
		trst_put_u32(plain + 40, (uint32_t)(t % 1000000u) * 1000u);
	}
	memset(e_sk, 0x77, sizeof e_sk);
	trst_noise_init(&ns, (const uint8_t *)"tryst/noise/v1", 14);
	trst_noise_mix_hash(&ns, b_pk, 32);
	msg[0] = TRST_HS_TYPE_INITIATION;
	trst_put_u32(msg + 1, 99);
	if (trst_noise_ik_write1(&ns, a_sk, a_pk, e_sk, b_pk, plain, sizeof plain, msg + 5) < 0)
		abort();
	fix_mac1(msg, 403, bob_key);
	memset(msg + 419, 0, 16);
	if (responder(msg, sizeof msg, 0, &hs) != 0)
		return;
	/* Accepted: it must be what was sent, and the answer must fit. */
	if (memcmp(hs.peer, alice_key, 32) != 0 || hs.payload_len > TRST_HS_PAYLOAD_MAX ||
	    memcmp(hs.payload, plain + 46, hs.payload_len) != 0 || hs.remote_index != 99)
		abort();
	if (trst_hs_respond(&hs, 7, hs.payload, hs.payload_len, out, sizeof out, &len, &res) != 0 ||
	    len > sizeof msg || len != TRST_HS_RESPONSE_MIN + res.payload_len)
		abort();
}

/* Mode 4: bob's genuine response carrying the input as its payload. */
static void crafted_response(const uint8_t *in, size_t n)
{
	struct trst_noise ns = resp_hs.ns;
	uint8_t e_sk[32], msg[9 + 32 + MAX_IN + 16 + 32];
	trst_hs hs = init_hs;
	struct trst_hs_result res;
	size_t len = TRST_HS_RESPONSE_MIN + n;
	int rc;

	memset(e_sk, 0x55, sizeof e_sk);
	msg[0] = TRST_HS_TYPE_RESPONSE;
	trst_put_u32(msg + 1, 42);
	trst_put_u32(msg + 5, init_hs.local_index);
	if (trst_noise_ik_write2(&ns, e_sk, resp_hs.re, resp_hs.rs, in, n, msg + 9) < 0)
		abort();
	fix_mac1(msg, len - 32, alice_key);
	memset(msg + len - 16, 0, 16);
	rc = trst_hs_consume_response(&hs, msg, len, &res);
	if ((rc == 0) != (n <= TRST_HS_PAYLOAD_MAX))
		abort();
	if (rc == 0 && (res.payload_len != n || memcmp(res.payload, in, n) != 0 ||
	                res.remote_index != 42 || memcmp(res.peer, bob_key, 32) != 0))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned mode, flags;

	if (!bob_r)
		setup();
	if (size < 1 || size - 1 > MAX_IN)
		return 0;
	mode = data[0] & 7;
	flags = data[0] >> 3;
	data++;
	size--;
	switch (mode) {
	case 0: raw_initiation(data, size, flags); break;
	case 1: raw_response(data, size, flags); break;
	case 2: raw_cookie(data, size, flags); break;
	case 3: crafted_initiation(data, size, flags); break;
	case 4: crafted_response(data, size); break;
	default:
		raw_initiation(data, size, 0);
		raw_response(data, size, 0);
		raw_cookie(data, size, 0);
	}
	return 0;
}
