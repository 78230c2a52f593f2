/*
 * packet.c: protection of data packets: AEAD, key update and the replay
 * window (doc/PROTOCOL.md, "Data packets").
 *
 *   header = u8 (0x20 | phase) || u32 receiver index || u64 packet number
 *   packet = header || AEAD(key, nonce, ad = header, payload) || tag[16]
 *   nonce  = iv XOR (0^32 || u64 packet number)          RFC 9001 5.3
 *
 * Each direction has its own traffic secret, hence its own key and IV; the
 * packet number, never reused, makes each nonce unique.  Key updates follow
 * RFC 9001 section 6: one phase bit, the next generation's secret derived
 * from the current one, the receiver trying the next keys when the bit
 * flips and following with its own sending side.
 *
 * Nothing is decided by an unauthenticated byte: a packet whose AEAD fails
 * changes nothing but the failure counter, so a forged phase bit cannot
 * rotate keys and a forged packet number cannot move the replay window.
 */
#include "config.h"

#include <limits.h>
#include <string.h>

#include <sodium.h>
#ifdef HAVE_OPENSSL
#include <openssl/evp.h>
#endif

#include "internal.h"
#include "packet.h"

static const char key_label[] = "tryst/pkt/key";
static const char iv_label[] = "tryst/pkt/iv";
static const char ku_label[] = "tryst/ku/v1";

int trst_aead_available(int aead)
{
	if (tryst_init() < 0)
		return 0;
	switch (aead) {
	case TRST_AEAD_CHACHA20_POLY1305: return 1;
	/* AES-NI and PCLMUL: libsodium has no portable AES-GCM, and a table
	 * based one would leak the key through cache timing anyway. */
	case TRST_AEAD_AES256_GCM: return crypto_aead_aes256gcm_is_available();
	}
	return 0;
}

int trst_aead_local_best(void)
{
	return trst_aead_available(TRST_AEAD_AES256_GCM) ? TRST_AEAD_AES256_GCM
	                                                 : TRST_AEAD_CHACHA20_POLY1305;
}

/* ---- OpenSSL's AEADs ----
 *
 * Same algorithms, same bytes on the wire; only who computes them changes.
 * libsodium 1.0.18's AES-256-GCM runs ~1.8 GB/s per core on the lab
 * machine, OpenSSL 3's (VAES/AVX-512 or AES-NI with stitched GHASH) 2-3x
 * that, and its ChaCha20-Poly1305 ~1.6x libsodium's: at loopback speed
 * the AEAD was half of each end's CPU (doc/BENCHMARKS.md).
 *
 * An EVP context holds an expanded key.  A trst_pkt_key is plain data
 * (copied, snapshotted by tests, zeroed as a whole), so it cannot own one;
 * each thread instead keeps a few contexts found by the key's id and set
 * up from its raw bytes on first use.  Any failure falls back to libsodium,
 * which computes the same bytes. */
#ifdef HAVE_OPENSSL
#define EVP_SLOTS 8

struct evp_slot {
	uint64_t id; /* 0: free */
	int enc;
	EVP_CIPHER_CTX *ctx;
};

static _Thread_local struct evp_slot evp_slots[EVP_SLOTS];
static _Thread_local unsigned evp_victim;
static _Thread_local int evp_off; /* trst_pkt_test_use_libsodium */
static uint64_t evp_last_id;

static uint64_t evp_new_id(void)
{
	return __atomic_add_fetch(&evp_last_id, 1, __ATOMIC_RELAXED);
}

/* Forget this thread's context of key `id`, wiping its key schedule. */
static void evp_forget(uint64_t id)
{
	for (int i = 0; id && i < EVP_SLOTS; i++)
		if (evp_slots[i].id == id) {
			evp_slots[i].id = 0;
			EVP_CIPHER_CTX_reset(evp_slots[i].ctx);
		}
}

static EVP_CIPHER_CTX *evp_ctx(const struct trst_pkt_key *k, int aead, int enc)
{
	struct evp_slot *s;

	if (evp_off || !k->id)
		return NULL;
	for (int i = 0; i < EVP_SLOTS; i++)
		if (evp_slots[i].id == k->id && evp_slots[i].enc == enc)
			return evp_slots[i].ctx;
	s = &evp_slots[evp_victim++ % EVP_SLOTS];
	s->id = 0;
	if (!s->ctx && !(s->ctx = EVP_CIPHER_CTX_new()))
		return NULL;
	if (EVP_CipherInit_ex(
	        s->ctx, aead == TRST_AEAD_AES256_GCM ? EVP_aes_256_gcm() : EVP_chacha20_poly1305(),
	        NULL, k->raw, NULL, enc) != 1)
		return NULL;
	s->id = k->id;
	s->enc = enc;
	return s->ctx;
}

/* 0 sealed; -1 not done (use libsodium). */
static int evp_seal(const struct trst_pkt_key *k, int aead, uint8_t *out, uint8_t *tag,
                    const uint8_t *plain, size_t len, const uint8_t *ad, size_t adlen,
                    const uint8_t *nonce)
{
	EVP_CIPHER_CTX *x = evp_ctx(k, aead, 1);
	int l;

	if (!x || len > INT_MAX)
		return -1;
	if (EVP_EncryptInit_ex(x, NULL, NULL, NULL, nonce) == 1 &&
	    EVP_EncryptUpdate(x, NULL, &l, ad, (int)adlen) == 1 &&
	    EVP_EncryptUpdate(x, out, &l, plain, (int)len) == 1 &&
	    EVP_EncryptFinal_ex(x, out + l, &l) == 1 &&
	    EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_GET_TAG, TRST_PKT_TAG_LEN, tag) == 1)
		return 0;
	evp_forget(k->id);
	return -1;
}

/* 0 authentic; -1 forged (out zeroed); 1 not done (use libsodium). */
static int evp_open(const struct trst_pkt_key *k, int aead, uint8_t *out, const uint8_t *c,
                    size_t len, const uint8_t *tag, const uint8_t *ad, size_t adlen,
                    const uint8_t *nonce)
{
	EVP_CIPHER_CTX *x = evp_ctx(k, aead, 0);
	int l;

	if (!x || len > INT_MAX)
		return 1;
	if (EVP_DecryptInit_ex(x, NULL, NULL, NULL, nonce) != 1 ||
	    EVP_DecryptUpdate(x, NULL, &l, ad, (int)adlen) != 1 ||
	    EVP_DecryptUpdate(x, out, &l, c, (int)len) != 1 ||
	    EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_SET_TAG, TRST_PKT_TAG_LEN, (void *)tag) != 1) {
		evp_forget(k->id);
		return 1;
	}
	if (EVP_DecryptFinal_ex(x, out + l, &l) == 1)
		return 0;
	/* As libsodium does: no unauthenticated plaintext is left behind. */
	sodium_memzero(out, len);
	return -1;
}

int trst_pkt_test_use_libsodium(int on)
{
	evp_off = on;
	return 1;
}
#else
static uint64_t evp_new_id(void)
{
	return 0;
}

static void evp_forget(uint64_t id)
{
	(void)id;
}

static int evp_seal(const struct trst_pkt_key *k, int aead, uint8_t *out, uint8_t *tag,
                    const uint8_t *plain, size_t len, const uint8_t *ad, size_t adlen,
                    const uint8_t *nonce)
{
	(void)k, (void)aead, (void)out, (void)tag, (void)plain, (void)len, (void)ad, (void)adlen,
	    (void)nonce;
	return -1;
}

static int evp_open(const struct trst_pkt_key *k, int aead, uint8_t *out, const uint8_t *c,
                    size_t len, const uint8_t *tag, const uint8_t *ad, size_t adlen,
                    const uint8_t *nonce)
{
	(void)k, (void)aead, (void)out, (void)c, (void)len, (void)tag, (void)ad, (void)adlen,
	    (void)nonce;
	return 1;
}

int trst_pkt_test_use_libsodium(int on)
{
	(void)on;
	return 0;
}
#endif

/* ---- keys ---- */

void trst_pkt_derive(const uint8_t secret[TRST_PKT_SECRET_LEN], uint8_t key[TRST_PKT_KEY_LEN],
                     uint8_t iv[TRST_PKT_IV_LEN])
{
	uint8_t t[16];

	crypto_generichash(key, TRST_PKT_KEY_LEN, (const uint8_t *)key_label, sizeof key_label - 1,
	                   secret, TRST_PKT_SECRET_LEN);
	/* libsodium's BLAKE2b has a 16-byte minimum output, so the 12-byte
	 * IV is the start of a 16-byte digest rather than BLAKE2b-96. */
	crypto_generichash(t, sizeof t, (const uint8_t *)iv_label, sizeof iv_label - 1, secret,
	                   TRST_PKT_SECRET_LEN);
	memcpy(iv, t, TRST_PKT_IV_LEN);
	sodium_memzero(t, sizeof t);
}

void trst_pkt_next_secret(const uint8_t cur[TRST_PKT_SECRET_LEN], uint8_t next[TRST_PKT_SECRET_LEN])
{
	uint8_t t[TRST_PKT_SECRET_LEN];

	/* Keyed by the current secret: the chain only runs forward, so a
	 * later key reveals nothing about earlier traffic (RFC 9001 6.1). */
	crypto_generichash(t, sizeof t, (const uint8_t *)ku_label, sizeof ku_label - 1, cur,
	                   TRST_PKT_SECRET_LEN);
	memcpy(next, t, sizeof t);
	sodium_memzero(t, sizeof t);
}

static void key_setup(struct trst_pkt_key *k, int aead, const uint8_t secret[TRST_PKT_SECRET_LEN])
{
	uint8_t key[TRST_PKT_KEY_LEN];

	memmove(k->secret, secret, TRST_PKT_SECRET_LEN);
	trst_pkt_derive(k->secret, key, k->iv);
	memcpy(k->raw, key, sizeof key);
	evp_forget(k->id); /* the generation k held (a copy's context is rebuilt when used) */
	k->id = evp_new_id();
	if (aead == TRST_AEAD_AES256_GCM)
		/* The expanded key schedule and GHASH powers, once per key
		 * rather than once per packet. */
		crypto_aead_aes256gcm_beforenm(&k->k.aes, key);
	else
		memcpy(k->k.chacha, key, sizeof key);
	sodium_memzero(key, sizeof key);
}

/* k becomes the generation after `from` (k may be from). */
static void key_next(struct trst_pkt_key *k, int aead, const struct trst_pkt_key *from)
{
	uint8_t s[TRST_PKT_SECRET_LEN];

	trst_pkt_next_secret(from->secret, s);
	key_setup(k, aead, s);
	sodium_memzero(s, sizeof s);
}

static void nonce_of(const struct trst_pkt_key *k, uint64_t pn, uint8_t nonce[TRST_PKT_IV_LEN])
{
	uint8_t b[8];

	/* RFC 9001 section 5.3: the packet number, left-padded to the IV's
	 * size, XORed into the IV. */
	memcpy(nonce, k->iv, TRST_PKT_IV_LEN);
	trst_put_u64(b, pn);
	for (int i = 0; i < 8; i++)
		nonce[4 + i] ^= b[i];
}

int trst_pkt_crypto_init(struct trst_pkt_crypto *c, int aead,
                         const uint8_t send_secret[TRST_PKT_SECRET_LEN],
                         const uint8_t recv_secret[TRST_PKT_SECRET_LEN], uint32_t local_index,
                         uint32_t remote_index)
{
	if (!c || !send_secret || !recv_secret)
		return TRYST_ERR_INVALID;
	if (tryst_init() < 0)
		return TRYST_ERR_CRYPTO;
	if (!trst_aead_available(aead))
		return TRYST_ERR_INVALID;
	sodium_memzero(c, sizeof *c);
	c->aead = aead;
	c->local_index = local_index;
	c->remote_index = remote_index;
	key_setup(&c->send, aead, send_secret);
	/* The handshake confirmed generation 0 on both sides, and the peer
	 * holds generation 1's keys from the start: a first update needs no
	 * acknowledgement. */
	c->send_confirmed = 1;
	key_setup(&c->recv_cur, aead, recv_secret);
	key_next(&c->recv_next, aead, &c->recv_cur);
	if (aead == TRST_AEAD_AES256_GCM) {
		c->update_limit = TRST_PKT_AES_UPDATE;
		c->confidentiality_limit = TRST_PKT_AES_CONFIDENTIALITY;
		c->integrity_limit = TRST_PKT_AES_INTEGRITY;
	} else {
		c->update_limit = TRST_PKT_CHACHA_UPDATE;
		c->confidentiality_limit = UINT64_MAX; /* packet numbers run out first */
		c->integrity_limit = TRST_PKT_CHACHA_INTEGRITY;
	}
	return 0;
}

void trst_pkt_crypto_wipe(struct trst_pkt_crypto *c)
{
	if (!c)
		return;
	evp_forget(c->send.id);
	evp_forget(c->recv_prev.id);
	evp_forget(c->recv_cur.id);
	evp_forget(c->recv_next.id);
	sodium_memzero(c, sizeof *c);
}

void trst_pkt_set_limits(struct trst_pkt_crypto *c, uint64_t update, uint64_t confidentiality,
                         uint64_t integrity)
{
	if (update)
		c->update_limit = update;
	if (confidentiality)
		c->confidentiality_limit = confidentiality;
	if (integrity)
		c->integrity_limit = integrity;
}

/* ---- sealing ---- */

static void send_next_generation(struct trst_pkt_crypto *c)
{
	key_next(&c->send, c->aead, &c->send);
	c->send_gen++;
	c->send_count = 0;
	c->send_first_pn = c->next_pn;
	c->send_confirmed = 0;
}

ssize_t trst_pkt_seal(struct trst_pkt_crypto *c, uint8_t *out, size_t payload_len, size_t cap,
                      uint64_t *pn)
{
	return trst_pkt_seal_from(c, out, out ? out + TRST_PKT_HEADER_LEN : NULL, payload_len, cap,
	                          pn);
}

ssize_t trst_pkt_seal_from(struct trst_pkt_crypto *c, uint8_t *out, const uint8_t *plain,
                           size_t payload_len, size_t cap, uint64_t *pn)
{
	uint8_t nonce[TRST_PKT_IV_LEN], *payload = out + TRST_PKT_HEADER_LEN;
	uint64_t n;

	if (!c || !out || !plain || !c->aead)
		return TRYST_ERR_INVALID;
	if (cap < TRST_PKT_OVERHEAD || payload_len > cap - TRST_PKT_OVERHEAD)
		return TRYST_ERR_BUFFER;
	n = c->next_pn;
	/* RFC 9000 section 12.3: a connection out of packet numbers is
	 * closed; RFC 9001 section 6.6: so is one whose key reached its
	 * confidentiality limit without the peer confirming an update. */
	if (n > TRST_PKT_PN_MAX || c->send_count >= c->confidentiality_limit)
		return TRYST_ERR_PACKET_LIMIT;

	out[0] = (uint8_t)(TRST_PKT_TYPE_DATA | (c->send_gen & TRST_PKT_KEY_PHASE));
	trst_put_u32(out + 1, c->remote_index);
	trst_put_u64(out + 5, n);
	nonce_of(&c->send, n, nonce);
	if (evp_seal(&c->send, c->aead, payload, payload + payload_len, plain, payload_len, out,
	             TRST_PKT_HEADER_LEN, nonce) == 0)
		; /* OpenSSL did it */
	else if (c->aead == TRST_AEAD_AES256_GCM)
		crypto_aead_aes256gcm_encrypt_detached_afternm(
		    payload, payload + payload_len, NULL, plain, payload_len, out,
		    TRST_PKT_HEADER_LEN, NULL, nonce, &c->send.k.aes);
	else
		crypto_aead_chacha20poly1305_ietf_encrypt_detached(
		    payload, payload + payload_len, NULL, plain, payload_len, out,
		    TRST_PKT_HEADER_LEN, NULL, nonce, c->send.k.chacha);
	c->next_pn = n + 1;
	c->send_count++;
	if (pn)
		*pn = n;
	return (ssize_t)(payload_len + TRST_PKT_OVERHEAD);
}

int trst_pkt_need_key_update(const struct trst_pkt_crypto *c)
{
	return c->aead && c->send_count >= c->update_limit && c->send_confirmed &&
	       c->send_gen == c->recv_gen;
}

int trst_pkt_key_update(struct trst_pkt_crypto *c)
{
	/* RFC 9001 section 6.1: not before a packet of the current phase has
	 * been acknowledged.  Until then the peer may not hold this
	 * generation's keys yet, and the generation after would carry the
	 * same phase bit as the one it still uses: it could not tell them
	 * apart. */
	if (!c->aead || !c->send_confirmed || c->send_gen != c->recv_gen)
		return TRYST_ERR_INVALID;
	send_next_generation(c);
	return 0;
}

void trst_pkt_on_ack(struct trst_pkt_crypto *c, uint64_t pn)
{
	if (pn >= c->send_first_pn && pn < c->next_pn)
		c->send_confirmed = 1;
}

/* ---- opening ---- */

/* RFC 6479: a ring of 64-bit blocks; moving the top forward clears the
 * blocks it passes, so neither check nor update ever shifts the bitmap. */
static int replay_check(const struct trst_pkt_crypto *c, uint64_t pn)
{
	if (pn > c->replay_top)
		return 0;
	if (c->replay_top - pn >= TRST_PKT_REPLAY_WINDOW)
		return TRYST_ERR_PACKET_REPLAY;
	if (c->replay[(pn >> 6) % TRST_PKT_REPLAY_BLOCKS] & (1ull << (pn & 63)))
		return TRYST_ERR_PACKET_REPLAY;
	return 0;
}

static void replay_update(struct trst_pkt_crypto *c, uint64_t pn)
{
	if (pn > c->replay_top) {
		uint64_t from = c->replay_top >> 6, diff = (pn >> 6) - from;
		if (diff > TRST_PKT_REPLAY_BLOCKS)
			diff = TRST_PKT_REPLAY_BLOCKS;
		for (uint64_t i = 1; i <= diff; i++)
			c->replay[(from + i) % TRST_PKT_REPLAY_BLOCKS] = 0;
		c->replay_top = pn;
	}
	c->replay[(pn >> 6) % TRST_PKT_REPLAY_BLOCKS] |= 1ull << (pn & 63);
}

static void recv_rotate(struct trst_pkt_crypto *c, uint64_t pn)
{
	evp_forget(c->recv_prev.id);
	c->recv_prev = c->recv_cur;
	c->have_prev = 1;
	c->recv_cur = c->recv_next;
	key_next(&c->recv_next, c->aead, &c->recv_cur);
	c->recv_gen++;
	c->recv_first_pn = pn;
	c->recv_any = 1;
	/* RFC 9001 section 6.2: the peer updated; answer in the new phase
	 * unless this side started the update itself. */
	if (c->send_gen < c->recv_gen)
		send_next_generation(c);
}

int trst_pkt_peek_index(const uint8_t *pkt, size_t len, uint32_t *index)
{
	if (!pkt || len < 1)
		return TRYST_ERR_PACKET_TRUNCATED;
	if ((pkt[0] & ~TRST_PKT_KEY_PHASE) != TRST_PKT_TYPE_DATA)
		return TRYST_ERR_PACKET_TYPE;
	if (len < TRST_PKT_OVERHEAD)
		return TRYST_ERR_PACKET_TRUNCATED;
	if (index)
		*index = trst_get_u32(pkt + 1);
	return 0;
}

int trst_pkt_integrity_exceeded(const struct trst_pkt_crypto *c)
{
	return c->auth_failures > c->integrity_limit;
}

ssize_t trst_pkt_open(struct trst_pkt_crypto *c, uint8_t *pkt, size_t len, uint64_t *pn)
{
	return trst_pkt_open_to(c, pkt, len, pkt ? pkt + TRST_PKT_HEADER_LEN : NULL, pn);
}

ssize_t trst_pkt_open_to(struct trst_pkt_crypto *c, const uint8_t *pkt, size_t len, uint8_t *plain,
                         uint64_t *pn)
{
	enum { CUR, PREV, NEXT } which;
	const struct trst_pkt_key *k;
	uint8_t nonce[TRST_PKT_IV_LEN];
	const uint8_t *payload = pkt + TRST_PKT_HEADER_LEN;
	uint32_t index;
	uint64_t n;
	size_t plen;
	int rc;

	if (!c || !c->aead)
		return TRYST_ERR_INVALID;
	if ((rc = trst_pkt_peek_index(pkt, len, &index)) < 0)
		return rc;
	if (!plain)
		return TRYST_ERR_INVALID;
	/* RFC 9001 section 6.6: past the integrity limit, process nothing. */
	if (trst_pkt_integrity_exceeded(c))
		return TRYST_ERR_PACKET_LIMIT;
	n = trst_get_u64(pkt + 5);
	/* Neither is ever sent by a peer that holds our keys.  Refused without
	 * trying the AEAD, and not counted: no forgery was attempted. */
	if (index != c->local_index || n > TRST_PKT_PN_MAX)
		return TRYST_ERR_PACKET_AUTH;

	/* RFC 9001 section 6.4: a packet whose phase bit differs from the
	 * current keys' is of the previous phase if its number is below
	 * every number seen in the current phase, else of the next one. */
	if ((pkt[0] & TRST_PKT_KEY_PHASE) == (c->recv_gen & TRST_PKT_KEY_PHASE)) {
		which = CUR;
		k = &c->recv_cur;
	} else if (c->have_prev && n < c->recv_first_pn) {
		which = PREV;
		k = &c->recv_prev;
	} else {
		which = NEXT;
		k = &c->recv_next;
	}
	plen = len - TRST_PKT_OVERHEAD;
	nonce_of(k, n, nonce);
	rc = evp_open(k, c->aead, plain, payload, plen, payload + plen, pkt, TRST_PKT_HEADER_LEN,
	              nonce);
	if (rc != 1)
		; /* OpenSSL did it */
	else if (c->aead == TRST_AEAD_AES256_GCM)
		rc = crypto_aead_aes256gcm_decrypt_detached_afternm(
		    plain, NULL, payload, plen, payload + plen, pkt, TRST_PKT_HEADER_LEN, nonce,
		    &k->k.aes);
	else
		rc = crypto_aead_chacha20poly1305_ietf_decrypt_detached(
		    plain, NULL, payload, plen, payload + plen, pkt, TRST_PKT_HEADER_LEN, nonce,
		    k->k.chacha);
	if (rc != 0) {
		c->auth_failures++;
		return trst_pkt_integrity_exceeded(c) ? TRYST_ERR_PACKET_LIMIT
		                                      : TRYST_ERR_PACKET_AUTH;
	}
	/* Authentic; now a replay?  Checked only after the AEAD so that the
	 * window and the keys only ever move for genuine packets. */
	if ((rc = replay_check(c, n)) < 0)
		return rc;
	replay_update(c, n);
	if (which == NEXT) {
		recv_rotate(c, n);
	} else if (which == CUR && (!c->recv_any || n < c->recv_first_pn)) {
		c->recv_first_pn = n;
		c->recv_any = 1;
	}
	if (pn)
		*pn = n;
	return (ssize_t)plen;
}

void trst_pkt_drop_prev_keys(struct trst_pkt_crypto *c)
{
	evp_forget(c->recv_prev.id);
	sodium_memzero(&c->recv_prev, sizeof c->recv_prev);
	c->have_prev = 0;
}

int trst_pkt_test_set_next_pn(struct trst_pkt_crypto *c, uint64_t pn)
{
	if (pn < c->next_pn)
		return TRYST_ERR_INVALID;
	c->next_pn = pn;
	return 0;
}
