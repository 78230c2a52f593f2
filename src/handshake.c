/*
 * handshake.c: the sans-I/O handshake core (doc/PROTOCOL.md, "Handshake").
 *
 * Noise_IK_25519_ChaChaPoly_BLAKE2b with the prologue "tryst/noise/v1"; the
 * static keys are the X25519 forms of the two Ed25519 identities.  Message
 * layouts (integers big-endian):
 *
 *   initiation, 435 bytes        response, 89 + n bytes    cookie reply, 61
 *     0 u8  type 0x11              0 u8  type 0x12           0 u8  type 0x13
 *     1 u32 sender index           1 u32 sender index        1 u32 receiver index
 *     5 32  e                      5 u32 receiver index      5 24  nonce
 *    37 48  enc(s)                 9 32  e                  29 32  enc(cookie)
 *    85 318 enc(payload1)         41 n+16 enc(payload2)
 *   403 16  mac1                57+n 16  mac1
 *   419 16  mac2                73+n 16  mac2 (zero)
 *
 *   payload1 (302 bytes) = initiator's Ed25519 key (32) || TAI64N
 *     timestamp (12) || u16 n || n payload bytes || zeros to 256
 *   payload2 = the responder's n payload bytes (n <= 256)
 *   mac1 = BLAKE2b-128(key = BLAKE2b-256("tryst/mac1/v1" || receiver's
 *          Ed25519 key), every byte before mac1)
 *   mac2 = BLAKE2b-128(key = cookie, every byte before mac2), or zeros
 *   cookie = BLAKE2b-128(key = responder's secret, source address bytes)
 *   enc(cookie) = XChaCha20-Poly1305(key = BLAKE2b-256("tryst/cookie/v1" ||
 *          responder's Ed25519 key), nonce, cookie, ad = the initiation's mac1)
 *
 * Order of checks on the responder, cheapest first, so that a packet costs
 * no DH and creates no state before it has shown (mac1) that its sender
 * knows whom it addresses and, under load, (mac2) that it owns its source
 * address: type and length, mac1, mac2/cookie, Noise, timestamp window,
 * replay table.  The table changes only when everything has passed.
 */
#include "config.h"

#include <string.h>

#include <sodium.h>

#include "handshake.h"

static const char protocol_name[] = "Noise_IK_25519_ChaChaPoly_BLAKE2b";
static const char prologue[] = "tryst/noise/v1";
static const char label_mac1[] = "tryst/mac1/v1";
static const char label_cookie[] = "tryst/cookie/v1";

#define HASHLEN  64
#define DHLEN    32
#define TAGLEN   16
#define BLOCKLEN 128 /* BLAKE2b's block size: HMAC's B (RFC 2104 section 2) */

/* initiation */
#define I_SENDER    1
#define I_E         5
#define I_S         37
#define I_PAYLOAD   85
#define I_PLAIN_LEN (TRYST_KEY_SIZE + 12 + 2 + TRST_HS_PAYLOAD_MAX) /* 302 */
#define I_MAC1      (I_PAYLOAD + I_PLAIN_LEN + TAGLEN)              /* 403 */
#define I_MAC2      (I_MAC1 + TRST_HS_MAC_SIZE)                     /* 419 */
/* response */
#define R_SENDER   1
#define R_RECEIVER 5
#define R_NOISE    9
/* cookie reply */
#define C_RECEIVER  1
#define C_NONCE     5
#define C_BOX       29
#define C_NONCE_LEN crypto_aead_xchacha20poly1305_ietf_NPUBBYTES

/* TAI64 label of the Unix epoch: 2^62 + 10 s of TAI-UTC offset, as
 * WireGuard's timestamps count it. */
#define TAI64_EPOCH 0x400000000000000aull

#define REPLAY_SETS (TRST_HS_REPLAY_ENTRIES / TRST_HS_REPLAY_WAYS)

_Static_assert(I_MAC2 + TRST_HS_MAC_SIZE == TRST_HS_INITIATION_SIZE, "initiation layout");
_Static_assert(R_NOISE + DHLEN + TAGLEN + 2 * TRST_HS_MAC_SIZE == TRST_HS_RESPONSE_MIN,
               "response layout");
_Static_assert(C_BOX + TRST_HS_COOKIE_SIZE + TAGLEN == TRST_HS_COOKIE_REPLY_SIZE,
               "cookie reply layout");
/* No amplification (DESIGN.md section 6): every reply fits in the
 * initiation that caused it. */
_Static_assert(TRST_HS_RESPONSE_MAX <= TRST_HS_INITIATION_SIZE, "response larger than initiation");
_Static_assert(TRST_HS_COOKIE_REPLY_SIZE <= TRST_HS_INITIATION_SIZE, "cookie reply too large");
_Static_assert(sizeof protocol_name - 1 <= HASHLEN, "protocol name is hashed if longer");

/* ---- randomness ---- */

static void (*test_rng)(void *buf, size_t len);

void trst_hs_set_test_rng(void (*fn)(void *buf, size_t len))
{
	test_rng = fn;
}

static void draw(void *buf, size_t len)
{
	if (test_rng)
		test_rng(buf, len);
	else
		randombytes_buf(buf, len);
}

/* ---- hash functions (Noise section 4.3) ---- */

static void hash_update(crypto_generichash_state *st, const uint8_t *p, size_t len)
{
	if (len)
		crypto_generichash_update(st, p, len);
}

/* HMAC-BLAKE2b (RFC 2104, B = 128, L = 64) of key over a || b.  Noise
 * builds HKDF from HMAC even for BLAKE2 rather than BLAKE2's keyed mode,
 * to keep HKDF's extractor analysis (Noise section 4.3). */
static void hmac(uint8_t out[HASHLEN], const uint8_t key[HASHLEN], const uint8_t *a, size_t alen,
                 const uint8_t *b, size_t blen)
{
	crypto_generichash_state st;
	uint8_t pad[BLOCKLEN], inner[HASHLEN];

	memset(pad, 0x36, sizeof pad);
	for (size_t i = 0; i < HASHLEN; i++)
		pad[i] ^= key[i];
	crypto_generichash_init(&st, NULL, 0, HASHLEN);
	hash_update(&st, pad, sizeof pad);
	hash_update(&st, a, alen);
	hash_update(&st, b, blen);
	crypto_generichash_final(&st, inner, HASHLEN);

	memset(pad, 0x5c, sizeof pad);
	for (size_t i = 0; i < HASHLEN; i++)
		pad[i] ^= key[i];
	crypto_generichash_init(&st, NULL, 0, HASHLEN);
	hash_update(&st, pad, sizeof pad);
	hash_update(&st, inner, sizeof inner);
	crypto_generichash_final(&st, out, HASHLEN);

	sodium_memzero(pad, sizeof pad);
	sodium_memzero(inner, sizeof inner);
	sodium_memzero(&st, sizeof st);
}

/* HKDF(chaining_key, input_key_material, 2) of Noise section 4.3.  o1 may
 * be ck itself: ck is read only by the first HMAC. */
static void hkdf2(const uint8_t ck[HASHLEN], const uint8_t *ikm, size_t ikm_len,
                  uint8_t o1[HASHLEN], uint8_t o2[HASHLEN])
{
	static const uint8_t one = 1, two = 2;
	uint8_t temp_key[HASHLEN];

	hmac(temp_key, ck, ikm, ikm_len, NULL, 0);
	hmac(o1, temp_key, &one, 1, NULL, 0);
	hmac(o2, temp_key, o1, HASHLEN, &two, 1);
	sodium_memzero(temp_key, sizeof temp_key);
}

/* ---- the Noise core (Noise sections 5.1, 5.2) ---- */

void trst_noise_seal(const uint8_t k[TRST_HS_KEY_SIZE], uint64_t n, const uint8_t *ad, size_t adlen,
                     const uint8_t *in, size_t len, uint8_t *out)
{
	uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES] = {0};

	/* 32 bits of zeros, then n little-endian (Noise section 12.3). */
	for (int i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(n >> (8 * i));
	crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, in, len, ad, adlen, NULL, nonce, k);
}

static int noise_open(const uint8_t k[TRST_HS_KEY_SIZE], uint64_t n, const uint8_t *ad,
                      size_t adlen, const uint8_t *in, size_t len, uint8_t *out)
{
	uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES] = {0};

	for (int i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(n >> (8 * i));
	return crypto_aead_chacha20poly1305_ietf_decrypt(out, NULL, NULL, in, len, ad, adlen, nonce,
	                                                 k);
}

void trst_noise_init(struct trst_noise *ns, const uint8_t *pro, size_t len)
{
	memset(ns, 0, sizeof *ns);
	/* A name no longer than HASHLEN is used as h, padded with zeros. */
	memcpy(ns->h, protocol_name, sizeof protocol_name - 1);
	memcpy(ns->ck, ns->h, HASHLEN);
	trst_noise_mix_hash(ns, pro, len);
}

void trst_noise_mix_hash(struct trst_noise *ns, const uint8_t *data, size_t len)
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, HASHLEN);
	hash_update(&st, ns->h, HASHLEN);
	hash_update(&st, data, len);
	crypto_generichash_final(&st, ns->h, HASHLEN);
}

static void mix_key(struct trst_noise *ns, const uint8_t *ikm, size_t len)
{
	uint8_t temp_k[HASHLEN];

	hkdf2(ns->ck, ikm, len, ns->ck, temp_k);
	/* HASHLEN 64: the cipher key is the first 32 bytes (section 5.2). */
	memcpy(ns->k, temp_k, TRST_HS_KEY_SIZE);
	ns->n = 0;
	ns->has_k = 1;
	sodium_memzero(temp_k, sizeof temp_k);
}

/* MixKey(DH(sk, pk)).  libsodium refuses (-1) an all-zero result, which a
 * low-order public key gives: such a DH contributes nothing secret, so
 * the handshake stops (Noise section 12.1 allows either choice). */
static int mix_dh(struct trst_noise *ns, const uint8_t sk[32], const uint8_t pk[32])
{
	uint8_t dh[DHLEN];
	int rc = crypto_scalarmult(dh, sk, pk);

	if (rc == 0)
		mix_key(ns, dh, sizeof dh);
	sodium_memzero(dh, sizeof dh);
	return rc == 0 ? 0 : -1;
}

void trst_noise_encrypt_and_hash(struct trst_noise *ns, const uint8_t *in, size_t len, uint8_t *out)
{
	if (!ns->has_k) {
		memmove(out, in, len);
		trst_noise_mix_hash(ns, out, len);
		return;
	}
	trst_noise_seal(ns->k, ns->n++, ns->h, HASHLEN, in, len, out);
	trst_noise_mix_hash(ns, out, len + TAGLEN);
}

int trst_noise_decrypt_and_hash(struct trst_noise *ns, const uint8_t *in, size_t len, uint8_t *out)
{
	if (!ns->has_k) {
		trst_noise_mix_hash(ns, in, len);
		memmove(out, in, len);
		return 0;
	}
	if (len < TAGLEN || noise_open(ns->k, ns->n, ns->h, HASHLEN, in, len, out) != 0)
		return TRYST_ERR_HS_AUTH;
	ns->n++;
	trst_noise_mix_hash(ns, in, len);
	return 0;
}

void trst_noise_split(const struct trst_noise *ns, uint8_t k1[TRST_HS_KEY_SIZE],
                      uint8_t k2[TRST_HS_KEY_SIZE])
{
	uint8_t t1[HASHLEN], t2[HASHLEN];

	hkdf2(ns->ck, NULL, 0, t1, t2);
	memcpy(k1, t1, TRST_HS_KEY_SIZE);
	memcpy(k2, t2, TRST_HS_KEY_SIZE);
	sodium_memzero(t1, sizeof t1);
	sodium_memzero(t2, sizeof t2);
}

/* -> e, es, s, ss (Noise section 7.5, IK) */
int trst_noise_ik_write1(struct trst_noise *ns, const uint8_t s_sk[32], const uint8_t s_pk[32],
                         const uint8_t e_sk[32], const uint8_t rs[32], const uint8_t *payload,
                         size_t len, uint8_t *out)
{
	crypto_scalarmult_base(out, e_sk);
	trst_noise_mix_hash(ns, out, DHLEN);
	if (mix_dh(ns, e_sk, rs) < 0)
		return TRYST_ERR_HS_AUTH;
	trst_noise_encrypt_and_hash(ns, s_pk, DHLEN, out + DHLEN);
	if (mix_dh(ns, s_sk, rs) < 0)
		return TRYST_ERR_HS_AUTH;
	trst_noise_encrypt_and_hash(ns, payload, len, out + DHLEN + DHLEN + TAGLEN);
	return 0;
}

int trst_noise_ik_read1(struct trst_noise *ns, const uint8_t s_sk[32], const uint8_t *msg,
                        size_t len, uint8_t re[32], uint8_t rs[32], uint8_t *payload)
{
	if (len < DHLEN + DHLEN + TAGLEN + TAGLEN)
		return TRYST_ERR_HS_AUTH;
	memcpy(re, msg, DHLEN);
	trst_noise_mix_hash(ns, re, DHLEN);
	if (mix_dh(ns, s_sk, re) < 0)
		return TRYST_ERR_HS_AUTH;
	if (trst_noise_decrypt_and_hash(ns, msg + DHLEN, DHLEN + TAGLEN, rs) < 0)
		return TRYST_ERR_HS_AUTH;
	if (mix_dh(ns, s_sk, rs) < 0)
		return TRYST_ERR_HS_AUTH;
	return trst_noise_decrypt_and_hash(ns, msg + 2 * DHLEN + TAGLEN, len - 2 * DHLEN - TAGLEN,
	                                   payload);
}

/* <- e, ee, se */
int trst_noise_ik_write2(struct trst_noise *ns, const uint8_t e_sk[32], const uint8_t re[32],
                         const uint8_t rs[32], const uint8_t *payload, size_t len, uint8_t *out)
{
	crypto_scalarmult_base(out, e_sk);
	trst_noise_mix_hash(ns, out, DHLEN);
	if (mix_dh(ns, e_sk, re) < 0 || mix_dh(ns, e_sk, rs) < 0)
		return TRYST_ERR_HS_AUTH;
	trst_noise_encrypt_and_hash(ns, payload, len, out + DHLEN);
	return 0;
}

int trst_noise_ik_read2(struct trst_noise *ns, const uint8_t e_sk[32], const uint8_t s_sk[32],
                        const uint8_t *msg, size_t len, uint8_t *payload)
{
	if (len < DHLEN + TAGLEN)
		return TRYST_ERR_HS_AUTH;
	trst_noise_mix_hash(ns, msg, DHLEN);
	if (mix_dh(ns, e_sk, msg) < 0 || mix_dh(ns, s_sk, msg) < 0)
		return TRYST_ERR_HS_AUTH;
	return trst_noise_decrypt_and_hash(ns, msg + DHLEN, len - DHLEN, payload);
}

/* ---- tryst's framing: macs, cookies, timestamps ---- */

/* BLAKE2b-256(label || Ed25519 key): the mac1 and cookie-reply keys. */
static void label_key(const char *label, const uint8_t key[TRYST_KEY_SIZE], uint8_t out[32])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, (const uint8_t *)label, strlen(label));
	crypto_generichash_update(&st, key, TRYST_KEY_SIZE);
	crypto_generichash_final(&st, out, 32);
}

/* Keyed BLAKE2b-128 (RFC 7693 section 2.5), as WireGuard's macs. */
static void mac(uint8_t out[TRST_HS_MAC_SIZE], const uint8_t *key, size_t keylen,
                const uint8_t *msg, size_t len)
{
	crypto_generichash(out, TRST_HS_MAC_SIZE, msg, len, key, keylen);
}

static int mac_ok(const uint8_t *key, size_t keylen, const uint8_t *msg, size_t len,
                  const uint8_t *got)
{
	uint8_t want[TRST_HS_MAC_SIZE];

	mac(want, key, keylen, msg, len);
	return sodium_memcmp(want, got, TRST_HS_MAC_SIZE) == 0;
}

static int cookie_fresh(const struct trst_hs_cookie *c, uint64_t now)
{
	return c && c->valid && now >= c->received_us &&
	       now - c->received_us < TRST_HS_COOKIE_USE_US;
}

/* mac2 of an initiation in `msg`: from the cookie if fresh, else zeros
 * (an initiator without a cookie sends zeros, WireGuard section 5.4.4). */
static void put_mac2(uint8_t *msg, const struct trst_hs_cookie *cookie, uint64_t now)
{
	if (cookie_fresh(cookie, now))
		mac(msg + I_MAC2, cookie->value, TRST_HS_COOKIE_SIZE, msg, I_MAC2);
	else
		memset(msg + I_MAC2, 0, TRST_HS_MAC_SIZE);
}

/* TAI64N (label, nanoseconds; both big-endian) of a Unix time in µs. */
static void timestamp_put(uint8_t out[12], uint64_t now)
{
	trst_put_u64(out, TAI64_EPOCH + now / 1000000u);
	trst_put_u32(out + 8, (uint32_t)(now % 1000000u) * 1000u);
}

/* The Unix time in µs of a TAI64N timestamp; -1 if it is not a valid
 * TAI64N time after 1970 that µs can count. */
static int timestamp_get(const uint8_t ts[12], uint64_t *us)
{
	uint64_t label = trst_get_u64(ts), secs;
	uint32_t nanos = trst_get_u32(ts + 8);

	if (label < TAI64_EPOCH || nanos >= 1000000000u)
		return -1;
	secs = label - TAI64_EPOCH;
	if (secs > (UINT64_MAX - 999999u) / 1000000u)
		return -1;
	*us = secs * 1000000u + nanos / 1000u;
	return 0;
}

/* ---- the responder ---- */

struct replay_entry {
	uint8_t key[TRYST_KEY_SIZE]; /* an initiator's Ed25519 key */
	uint8_t ts[12];              /* the greatest timestamp accepted from it */
	uint8_t used;
	uint64_t last_us; /* our clock when it was last accepted: the LRU order */
};

struct trst_hs_responder {
	uint8_t ed_pk[TRYST_KEY_SIZE];
	uint8_t x_sk[32], x_pk[32];
	struct trst_noise ns0; /* after the prologue and "<- s": every handshake's start */
	uint8_t mac1_key[32], cookie_key[32];
	uint8_t secret[32], prev_secret[32];
	uint64_t secret_period; /* now / TRST_HS_COOKIE_ROTATE_US when it was drawn */
	int have_prev;
	uint8_t table_key[crypto_shorthash_KEYBYTES];
	struct replay_entry table[TRST_HS_REPLAY_ENTRIES];
};

int trst_hs_responder_new(trst_hs_responder **out, const tryst_identity *id, uint64_t now)
{
	trst_hs_responder *r;
	int rc;

	if (!out || !id)
		return TRYST_ERR_INVALID;
	if (tryst_init() < 0)
		return TRYST_ERR_CRYPTO;
	if (!(r = trst_calloc(1, sizeof *r)))
		return TRYST_ERR_NOMEM;
	tryst_identity_public_key(id, r->ed_pk);
	if ((rc = trst_identity_x25519(id, r->x_sk, r->x_pk)) < 0) {
		trst_hs_responder_free(r);
		return rc;
	}
	trst_noise_init(&r->ns0, (const uint8_t *)prologue, sizeof prologue - 1);
	trst_noise_mix_hash(&r->ns0, r->x_pk, sizeof r->x_pk);
	label_key(label_mac1, r->ed_pk, r->mac1_key);
	label_key(label_cookie, r->ed_pk, r->cookie_key);
	draw(r->secret, sizeof r->secret);
	r->secret_period = now / TRST_HS_COOKIE_ROTATE_US;
	/* A secret key for the set index, so nobody can aim initiations from
	 * made-up identities at one set to evict a victim's entry. */
	draw(r->table_key, sizeof r->table_key);
	*out = r;
	return 0;
}

void trst_hs_responder_free(trst_hs_responder *r)
{
	if (!r)
		return;
	sodium_memzero(r, sizeof *r);
	trst_free(r);
}

/* Cookie secrets belong to periods of TRST_HS_COOKIE_ROTATE_US on the
 * responder's clock; a cookie made in one period is accepted in it and the
 * next, so for at least 2 minutes after it was made and at most 4.  A new
 * period draws a new secret; the old one stays as the previous secret only
 * if the periods are adjacent (not after a gap or a clock step back). */
static void rotate_secret(trst_hs_responder *r, uint64_t now)
{
	uint64_t period = now / TRST_HS_COOKIE_ROTATE_US;

	if (period == r->secret_period)
		return;
	r->have_prev = period == r->secret_period + 1;
	if (r->have_prev)
		memcpy(r->prev_secret, r->secret, sizeof r->secret);
	else
		sodium_memzero(r->prev_secret, sizeof r->prev_secret);
	draw(r->secret, sizeof r->secret);
	r->secret_period = period;
}

static void make_cookie(const uint8_t secret[32], const uint8_t *addr, size_t addr_len,
                        uint8_t cookie[TRST_HS_COOKIE_SIZE])
{
	crypto_generichash(cookie, TRST_HS_COOKIE_SIZE, addr, addr_len, secret, 32);
}

static int mac2_valid(const trst_hs_responder *r, const uint8_t *msg, const uint8_t *addr,
                      size_t addr_len)
{
	uint8_t cookie[TRST_HS_COOKIE_SIZE];
	int ok;

	make_cookie(r->secret, addr, addr_len, cookie);
	ok = mac_ok(cookie, sizeof cookie, msg, I_MAC2, msg + I_MAC2);
	if (!ok && r->have_prev) {
		make_cookie(r->prev_secret, addr, addr_len, cookie);
		ok = mac_ok(cookie, sizeof cookie, msg, I_MAC2, msg + I_MAC2);
	}
	sodium_memzero(cookie, sizeof cookie);
	return ok;
}

/* The cookie reply to initiation `msg` (WireGuard section 5.4.7): the
 * cookie for the sender's address, encrypted under a key only the
 * responder's public key gives, bound to the initiation by its mac1. */
static void write_cookie_reply(const trst_hs_responder *r, const uint8_t *msg, const uint8_t *addr,
                               size_t addr_len, uint8_t *out)
{
	uint8_t cookie[TRST_HS_COOKIE_SIZE];

	make_cookie(r->secret, addr, addr_len, cookie);
	out[0] = TRST_HS_TYPE_COOKIE;
	memcpy(out + C_RECEIVER, msg + I_SENDER, 4);
	draw(out + C_NONCE, C_NONCE_LEN);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + C_BOX, NULL, cookie, sizeof cookie,
	                                           msg + I_MAC1, TRST_HS_MAC_SIZE, NULL,
	                                           out + C_NONCE, r->cookie_key);
	sodium_memzero(cookie, sizeof cookie);
}

static struct replay_entry *replay_set(trst_hs_responder *r, const uint8_t key[TRYST_KEY_SIZE])
{
	uint8_t h[crypto_shorthash_BYTES];

	crypto_shorthash(h, key, TRYST_KEY_SIZE, r->table_key);
	return &r->table[(trst_get_u32(h) % REPLAY_SETS) * TRST_HS_REPLAY_WAYS];
}

/* The entry for `key`, or NULL if it is not in the table. */
static struct replay_entry *replay_find(trst_hs_responder *r, const uint8_t key[TRYST_KEY_SIZE])
{
	struct replay_entry *set = replay_set(r, key);

	for (int i = 0; i < TRST_HS_REPLAY_WAYS; i++)
		if (set[i].used && memcmp(set[i].key, key, TRYST_KEY_SIZE) == 0)
			return &set[i];
	return NULL;
}

/* Remember ts as key's greatest accepted timestamp.  A full set forgets
 * its least recently accepted key: the time window then keeps that key's
 * old initiations out once they are TRST_HS_MAX_SKEW_US old. */
static void replay_store(trst_hs_responder *r, const uint8_t key[TRYST_KEY_SIZE],
                         const uint8_t ts[12], uint64_t now)
{
	struct replay_entry *e = replay_find(r, key);

	if (!e) {
		struct replay_entry *set = replay_set(r, key);
		e = &set[0];
		for (int i = 0; i < TRST_HS_REPLAY_WAYS && e->used; i++)
			if (!set[i].used || set[i].last_us < e->last_us)
				e = &set[i];
		memcpy(e->key, key, TRYST_KEY_SIZE);
		e->used = 1;
	}
	memcpy(e->ts, ts, 12);
	e->last_us = now;
}

int trst_hs_responder_consume(trst_hs_responder *r, trst_hs *hs, const uint8_t *msg, size_t len,
                              const uint8_t *addr, size_t addr_len, int under_load, uint64_t now,
                              uint8_t *reply, size_t reply_cap, size_t *reply_len)
{
	struct trst_noise ns;
	uint8_t re[32], rs[32], x[32], plain[I_PLAIN_LEN];
	const uint8_t *ed = plain, *ts = plain + TRYST_KEY_SIZE;
	const struct replay_entry *seen;
	uint64_t ts_us;
	size_t app_len;
	int rc;

	if (!r || !hs || !msg || (!addr && addr_len) || !reply || !reply_len)
		return TRYST_ERR_INVALID;
	*reply_len = 0;
	if (reply_cap < TRST_HS_COOKIE_REPLY_SIZE)
		return TRYST_ERR_BUFFER;
	if (len < 1)
		return TRYST_ERR_HS_TRUNCATED;
	if (msg[0] != TRST_HS_TYPE_INITIATION)
		return TRYST_ERR_HS_TYPE;
	if (len < TRST_HS_INITIATION_SIZE)
		return TRYST_ERR_HS_TRUNCATED;
	if (len > TRST_HS_INITIATION_SIZE)
		return TRYST_ERR_HS_OVERSIZE;
	/* mac1: the sender knows our public key; nothing else costs us work. */
	if (!mac_ok(r->mac1_key, sizeof r->mac1_key, msg, I_MAC1, msg + I_MAC1))
		return TRYST_ERR_HS_MAC;
	/* mac2: a valid one proves the sender received our cookie at its
	 * address.  Under load nothing else gets further; at other times a
	 * zero mac2 is fine, but a non-zero one that fails (tampered, or a
	 * cookie from before our restart) is answered with a fresh cookie, so
	 * an initiator with a stale cookie recovers at once. */
	if (under_load || !sodium_is_zero(msg + I_MAC2, TRST_HS_MAC_SIZE)) {
		rotate_secret(r, now);
		if (!mac2_valid(r, msg, addr, addr_len)) {
			write_cookie_reply(r, msg, addr, addr_len, reply);
			*reply_len = TRST_HS_COOKIE_REPLY_SIZE;
			return TRYST_ERR_HS_COOKIE;
		}
	}

	ns = r->ns0;
	if (trst_noise_ik_read1(&ns, r->x_sk, msg + I_E, I_MAC1 - I_E, re, rs, plain) < 0) {
		rc = TRYST_ERR_HS_AUTH;
		goto out;
	}
	/* The payload names the Ed25519 key whose X25519 form the Noise
	 * static is; ss has proved the sender holds that key's secret. */
	if (crypto_sign_ed25519_pk_to_curve25519(x, ed) != 0 || sodium_memcmp(x, rs, 32) != 0) {
		rc = TRYST_ERR_HS_AUTH;
		goto out;
	}
	app_len = trst_get_u16(plain + TRYST_KEY_SIZE + 12);
	if (app_len > TRST_HS_PAYLOAD_MAX ||
	    !sodium_is_zero(plain + TRYST_KEY_SIZE + 14 + app_len, TRST_HS_PAYLOAD_MAX - app_len)) {
		rc = TRYST_ERR_HS_AUTH;
		goto out;
	}
	if (timestamp_get(ts, &ts_us) < 0 ||
	    (ts_us > now ? ts_us - now : now - ts_us) > TRST_HS_MAX_SKEW_US) {
		rc = TRYST_ERR_HS_STALE;
		goto out;
	}
	/* Big-endian TAI64N compares as bytes. */
	if ((seen = replay_find(r, ed)) && memcmp(ts, seen->ts, 12) <= 0) {
		rc = TRYST_ERR_HS_REPLAY;
		goto out;
	}

	replay_store(r, ed, ts, now);
	memset(hs, 0, sizeof *hs);
	hs->state = TRST_HS_CONSUMED;
	memcpy(hs->peer, ed, TRYST_KEY_SIZE);
	hs->remote_index = trst_get_u32(msg + I_SENDER);
	hs->payload_len = app_len;
	memcpy(hs->payload, plain + TRYST_KEY_SIZE + 14, app_len);
	hs->ns = ns;
	memcpy(hs->re, re, 32);
	memcpy(hs->rs, rs, 32);
	rc = 0;
out:
	sodium_memzero(&ns, sizeof ns);
	sodium_memzero(plain, sizeof plain);
	return rc;
}

int trst_hs_respond(trst_hs *hs, uint32_t sender_index, const uint8_t *payload, size_t payload_len,
                    uint8_t *out, size_t outcap, size_t *outlen, struct trst_hs_result *res)
{
	struct trst_noise ns;
	uint8_t e_sk[32], mac1_key[32];
	const size_t n = TRST_HS_RESPONSE_MIN + payload_len;

	if (!hs || hs->state != TRST_HS_CONSUMED || payload_len > TRST_HS_PAYLOAD_MAX ||
	    (!payload && payload_len) || !out || !outlen || !res)
		return TRYST_ERR_INVALID;
	if (outcap < n)
		return TRYST_ERR_BUFFER;

	ns = hs->ns;
	draw(e_sk, sizeof e_sk);
	out[0] = TRST_HS_TYPE_RESPONSE;
	trst_put_u32(out + R_SENDER, sender_index);
	trst_put_u32(out + R_RECEIVER, hs->remote_index);
	/* re and rs passed X25519 at consume time, so neither DH can fail. */
	if (trst_noise_ik_write2(&ns, e_sk, hs->re, hs->rs, payload, payload_len, out + R_NOISE) <
	    0) {
		sodium_memzero(e_sk, sizeof e_sk);
		sodium_memzero(&ns, sizeof ns);
		return TRYST_ERR_HS_AUTH;
	}
	label_key(label_mac1, hs->peer, mac1_key);
	mac(out + n - 2 * TRST_HS_MAC_SIZE, mac1_key, sizeof mac1_key, out,
	    n - 2 * TRST_HS_MAC_SIZE);
	/* The responder never holds a cookie of the initiator's. */
	memset(out + n - TRST_HS_MAC_SIZE, 0, TRST_HS_MAC_SIZE);
	*outlen = n;

	memset(res, 0, sizeof *res);
	trst_noise_split(&ns, res->recv_key, res->send_key);
	memcpy(res->hash, ns.h, sizeof res->hash);
	memcpy(res->peer, hs->peer, TRYST_KEY_SIZE);
	res->local_index = sender_index;
	res->remote_index = hs->remote_index;
	memcpy(res->payload, hs->payload, hs->payload_len);
	res->payload_len = hs->payload_len;
	res->initiator = 0;

	sodium_memzero(e_sk, sizeof e_sk);
	sodium_memzero(&ns, sizeof ns);
	trst_hs_wipe(hs);
	return 0;
}

/* ---- the initiator ---- */

int trst_hs_initiate(trst_hs *hs, const tryst_identity *id, const uint8_t responder[TRYST_KEY_SIZE],
                     uint32_t sender_index, const uint8_t *payload, size_t payload_len,
                     const struct trst_hs_cookie *cookie, uint64_t now, uint8_t *out, size_t outcap,
                     size_t *outlen)
{
	struct trst_noise ns;
	uint8_t rs[32], s_sk[32], s_pk[32], e_sk[32], plain[I_PLAIN_LEN], key[32];
	uint8_t msg[TRST_HS_INITIATION_SIZE];
	int rc;

	if (!hs || !id || !responder || payload_len > TRST_HS_PAYLOAD_MAX ||
	    (!payload && payload_len) || !out || !outlen)
		return TRYST_ERR_INVALID;
	if (outcap < TRST_HS_INITIATION_SIZE)
		return TRYST_ERR_BUFFER;
	if (tryst_init() < 0)
		return TRYST_ERR_CRYPTO;
	if (crypto_sign_ed25519_pk_to_curve25519(rs, responder) != 0)
		return TRYST_ERR_KEY_INVALID;
	if ((rc = trst_identity_x25519(id, s_sk, s_pk)) < 0)
		return rc;

	memset(plain, 0, sizeof plain);
	tryst_identity_public_key(id, plain);
	timestamp_put(plain + TRYST_KEY_SIZE, now);
	trst_put_u16(plain + TRYST_KEY_SIZE + 12, (uint16_t)payload_len);
	if (payload_len)
		memcpy(plain + TRYST_KEY_SIZE + 14, payload, payload_len);

	trst_noise_init(&ns, (const uint8_t *)prologue, sizeof prologue - 1);
	trst_noise_mix_hash(&ns, rs, sizeof rs); /* <- s */
	draw(e_sk, sizeof e_sk);
	msg[0] = TRST_HS_TYPE_INITIATION;
	trst_put_u32(msg + I_SENDER, sender_index);
	/* rs passed the Ed25519-to-X25519 map, which refuses low-order
	 * points, so es and ss cannot fail. */
	if (trst_noise_ik_write1(&ns, s_sk, s_pk, e_sk, rs, plain, sizeof plain, msg + I_E) < 0) {
		rc = TRYST_ERR_KEY_INVALID;
		goto out;
	}
	label_key(label_mac1, responder, key);
	mac(msg + I_MAC1, key, sizeof key, msg, I_MAC1);
	put_mac2(msg, cookie, now);

	memset(hs, 0, sizeof *hs);
	hs->state = TRST_HS_INITIATED;
	memcpy(hs->peer, responder, TRYST_KEY_SIZE);
	hs->local_index = sender_index;
	hs->ns = ns;
	memcpy(hs->s_sk, s_sk, 32);
	memcpy(hs->e_sk, e_sk, 32);
	tryst_identity_public_key(id, key);
	label_key(label_mac1, key, hs->mac1_key);
	label_key(label_cookie, responder, hs->cookie_key);
	hs->cookie_armed = 1;
	memcpy(hs->msg, msg, sizeof msg);
	memcpy(out, msg, sizeof msg);
	*outlen = sizeof msg;
	rc = 0;
out:
	sodium_memzero(&ns, sizeof ns);
	sodium_memzero(s_sk, sizeof s_sk);
	sodium_memzero(e_sk, sizeof e_sk);
	sodium_memzero(plain, sizeof plain);
	return rc;
}

int trst_hs_consume_cookie(trst_hs *hs, const uint8_t *msg, size_t len, uint64_t now,
                           struct trst_hs_cookie *cookie)
{
	uint8_t value[TRST_HS_COOKIE_SIZE];

	if (!hs || !msg || !cookie)
		return TRYST_ERR_INVALID;
	if (len < 1)
		return TRYST_ERR_HS_TRUNCATED;
	if (msg[0] != TRST_HS_TYPE_COOKIE)
		return TRYST_ERR_HS_TYPE;
	if (len < TRST_HS_COOKIE_REPLY_SIZE)
		return TRYST_ERR_HS_TRUNCATED;
	if (len > TRST_HS_COOKIE_REPLY_SIZE)
		return TRYST_ERR_HS_OVERSIZE;
	if (hs->state != TRST_HS_INITIATED || trst_get_u32(msg + C_RECEIVER) != hs->local_index)
		return TRYST_ERR_HS_INDEX;
	/* One cookie per initiation sent, like WireGuard: a replayed reply
	 * cannot keep refreshing a cookie's age. */
	if (!hs->cookie_armed)
		return TRYST_ERR_HS_REPLAY;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(
	        value, NULL, NULL, msg + C_BOX, TRST_HS_COOKIE_SIZE + TAGLEN, hs->msg + I_MAC1,
	        TRST_HS_MAC_SIZE, msg + C_NONCE, hs->cookie_key) != 0)
		return TRYST_ERR_HS_AUTH;
	memcpy(cookie->value, value, sizeof value);
	cookie->received_us = now;
	cookie->valid = 1;
	hs->cookie_armed = 0;
	sodium_memzero(value, sizeof value);
	return 0;
}

int trst_hs_resend(trst_hs *hs, const struct trst_hs_cookie *cookie, uint64_t now, uint8_t *out,
                   size_t outcap, size_t *outlen)
{
	if (!hs || hs->state != TRST_HS_INITIATED || !out || !outlen)
		return TRYST_ERR_INVALID;
	if (outcap < TRST_HS_INITIATION_SIZE)
		return TRYST_ERR_BUFFER;
	memcpy(out, hs->msg, TRST_HS_INITIATION_SIZE);
	put_mac2(out, cookie, now);
	hs->cookie_armed = 1;
	*outlen = TRST_HS_INITIATION_SIZE;
	return 0;
}

int trst_hs_consume_response(trst_hs *hs, const uint8_t *msg, size_t len,
                             struct trst_hs_result *res)
{
	struct trst_noise ns;
	uint8_t payload[TRST_HS_PAYLOAD_MAX];
	size_t n;
	int rc;

	if (!hs || !msg || !res)
		return TRYST_ERR_INVALID;
	if (len < 1)
		return TRYST_ERR_HS_TRUNCATED;
	if (msg[0] != TRST_HS_TYPE_RESPONSE)
		return TRYST_ERR_HS_TYPE;
	if (len < TRST_HS_RESPONSE_MIN)
		return TRYST_ERR_HS_TRUNCATED;
	if (len > TRST_HS_RESPONSE_MAX)
		return TRYST_ERR_HS_OVERSIZE;
	if (hs->state != TRST_HS_INITIATED)
		return TRYST_ERR_HS_INDEX;
	n = len - TRST_HS_RESPONSE_MIN;
	if (!mac_ok(hs->mac1_key, sizeof hs->mac1_key, msg, len - 2 * TRST_HS_MAC_SIZE,
	            msg + len - 2 * TRST_HS_MAC_SIZE) ||
	    !sodium_is_zero(msg + len - TRST_HS_MAC_SIZE, TRST_HS_MAC_SIZE))
		return TRYST_ERR_HS_MAC;
	if (trst_get_u32(msg + R_RECEIVER) != hs->local_index)
		return TRYST_ERR_HS_INDEX;

	ns = hs->ns;
	/* ee and se: only the holder of the key we dialed shares ck with us. */
	if (trst_noise_ik_read2(&ns, hs->e_sk, hs->s_sk, msg + R_NOISE, DHLEN + n + TAGLEN,
	                        payload) < 0) {
		rc = TRYST_ERR_HS_WRONG_PEER;
		goto out;
	}
	memset(res, 0, sizeof *res);
	trst_noise_split(&ns, res->send_key, res->recv_key);
	memcpy(res->hash, ns.h, sizeof res->hash);
	memcpy(res->peer, hs->peer, TRYST_KEY_SIZE);
	res->local_index = hs->local_index;
	res->remote_index = trst_get_u32(msg + R_SENDER);
	memcpy(res->payload, payload, n);
	res->payload_len = n;
	res->initiator = 1;
	trst_hs_wipe(hs);
	rc = 0;
out:
	sodium_memzero(&ns, sizeof ns);
	sodium_memzero(payload, sizeof payload);
	return rc;
}

void trst_hs_wipe(trst_hs *hs)
{
	if (hs)
		sodium_memzero(hs, sizeof *hs);
}
