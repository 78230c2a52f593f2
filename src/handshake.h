/*
 * handshake.h: the sans-I/O handshake core; never installed.
 *
 * Noise_IK_25519_ChaChaPoly_BLAKE2b (Noise Protocol Framework, revision 34)
 * between two Ed25519 identities, framed like WireGuard's handshake: a type
 * byte, session indexes, mac1 and mac2, cookie replies for a responder
 * under load, and a timestamp in the first message against replay.  The
 * wire format is in doc/PROTOCOL.md, "Handshake".
 *
 * Sans-I/O: nothing here reads a clock, touches a socket or allocates,
 * except trst_hs_responder_new().  Callers pass `now` in microseconds since
 * the Unix epoch (tryst_now_us()) and send the bytes they are given.  The
 * per-handshake state (trst_hs) is plain memory the caller embeds where it
 * likes; trst_hs_wipe() forgets it.
 *
 * One handshake:
 *   initiator                                   responder
 *   trst_hs_initiate()       -- initiation -->  trst_hs_responder_consume()
 *                                               (caller looks at hs.peer and
 *                                                may refuse: trst_hs_wipe())
 *   trst_hs_consume_response() <-- response --  trst_hs_respond()
 * Both ends then hold a trst_hs_result: one key per direction, the
 * handshake hash and the peer's key.  A responder under load answers an
 * initiation that lacks a valid mac2 with a cookie reply instead
 * (TRYST_ERR_HS_COOKIE); the initiator takes it with
 * trst_hs_consume_cookie() and sends the initiation again with
 * trst_hs_resend().
 */
#ifndef TRYST_HANDSHAKE_H
#define TRYST_HANDSHAKE_H

#include <stddef.h>
#include <stdint.h>

#include "internal.h"

/* Message types: the first byte of each message.  Values 0-3 are left to
 * STUN, which shares the socket (RFC 7983 section 7). */
#define TRST_HS_TYPE_INITIATION 0x11
#define TRST_HS_TYPE_RESPONSE   0x12
#define TRST_HS_TYPE_COOKIE     0x13

#define TRST_HS_PAYLOAD_MAX 256 /* opaque payload bytes each way */
#define TRST_HS_KEY_SIZE    32  /* a transport key (ChaCha20-Poly1305) */
#define TRST_HS_HASH_SIZE   64  /* the handshake hash (BLAKE2b) */
#define TRST_HS_MAC_SIZE    16
#define TRST_HS_COOKIE_SIZE 16

/* Message sizes.  The initiation is always padded to its full size, so
 * no reply (response or cookie reply) is ever larger than the initiation
 * it answers (DESIGN.md section 6: no amplification). */
#define TRST_HS_INITIATION_SIZE   435
#define TRST_HS_RESPONSE_MIN      89
#define TRST_HS_RESPONSE_MAX      (TRST_HS_RESPONSE_MIN + TRST_HS_PAYLOAD_MAX)
#define TRST_HS_COOKIE_REPLY_SIZE 61

/* A responder refuses an initiation whose timestamp is further than this
 * from its own clock, in either direction (doc/PROTOCOL.md, "Replay and clocks"). */
#define TRST_HS_MAX_SKEW_US (120ull * 1000000ull)
/* The responder's cookie secret changes with every period this long of its
 * clock (WireGuard whitepaper section 5.4.7 keeps one for 2 minutes); a
 * cookie is accepted in the period it was made in and the next. */
#define TRST_HS_COOKIE_ROTATE_US (120ull * 1000000ull)
/* An initiator uses a cookie for this long after it arrived: the 2
 * minutes every cookie is good for, less 5 s for the reply's flight. */
#define TRST_HS_COOKIE_USE_US (115ull * 1000000ull)
/* Initiator keys remembered for replay protection, in sets of 8. */
#define TRST_HS_REPLAY_ENTRIES 4096
#define TRST_HS_REPLAY_WAYS    8

/* ---- the Noise core (Noise spec sections 4 and 5) ----
 * Exposed so the tests can run it on the Noise project's own test vectors
 * with raw X25519 keys and another prologue; the handshake below is built
 * on it.  Functions returning int give 0 or TRYST_ERR_HS_AUTH (a DH with
 * a low-order point, or a ciphertext that does not authenticate). */

struct trst_noise {
	uint8_t ck[TRST_HS_HASH_SIZE]; /* chaining key */
	uint8_t h[TRST_HS_HASH_SIZE];  /* handshake hash */
	uint8_t k[TRST_HS_KEY_SIZE];   /* cipher key, once has_k */
	uint64_t n;                    /* nonce counter */
	int has_k;
};

/* InitializeSymmetric(protocol name) then MixHash(prologue). */
void trst_noise_init(struct trst_noise *ns, const uint8_t *prologue, size_t len);
void trst_noise_mix_hash(struct trst_noise *ns, const uint8_t *data, size_t len);
/* EncryptAndHash: writes len + 16 bytes (len bytes before a key exists). */
void trst_noise_encrypt_and_hash(struct trst_noise *ns, const uint8_t *in, size_t len,
                                 uint8_t *out);
/* DecryptAndHash of `len` bytes (>= 16 once a key exists). */
int trst_noise_decrypt_and_hash(struct trst_noise *ns, const uint8_t *in, size_t len, uint8_t *out);
/* Split(): the initiator's sending key and the responder's. */
void trst_noise_split(const struct trst_noise *ns, uint8_t k1[TRST_HS_KEY_SIZE],
                      uint8_t k2[TRST_HS_KEY_SIZE]);
/* ChaCha20-Poly1305 with Noise's nonce: 32 zero bits || 64-bit
 * little-endian counter (section 12.3).  Writes len + 16 bytes. */
void trst_noise_seal(const uint8_t k[TRST_HS_KEY_SIZE], uint64_t n, const uint8_t *ad, size_t adlen,
                     const uint8_t *in, size_t len, uint8_t *out);

/* The IK messages, after the caller has mixed the responder's static key
 * into the hash (the pre-message "<- s").  Message 1 is
 * e (32) || enc(s) (48) || enc(payload) (len + 16); message 2 is
 * e (32) || enc(payload) (len + 16). */
int trst_noise_ik_write1(struct trst_noise *ns, const uint8_t s_sk[32], const uint8_t s_pk[32],
                         const uint8_t e_sk[32], const uint8_t rs[32], const uint8_t *payload,
                         size_t len, uint8_t *out);
/* `len` is the whole message 1; writes the initiator's e and s and
 * len - 96 payload bytes. */
int trst_noise_ik_read1(struct trst_noise *ns, const uint8_t s_sk[32], const uint8_t *msg,
                        size_t len, uint8_t re[32], uint8_t rs[32], uint8_t *payload);
int trst_noise_ik_write2(struct trst_noise *ns, const uint8_t e_sk[32], const uint8_t re[32],
                         const uint8_t rs[32], const uint8_t *payload, size_t len, uint8_t *out);
/* `len` is the whole message 2; writes len - 48 payload bytes. */
int trst_noise_ik_read2(struct trst_noise *ns, const uint8_t e_sk[32], const uint8_t s_sk[32],
                        const uint8_t *msg, size_t len, uint8_t *payload);

/* ---- the tryst handshake ---- */

enum trst_hs_state {
	TRST_HS_IDLE = 0,      /* nothing (zeroed or wiped) */
	TRST_HS_INITIATED = 1, /* initiator: initiation written, awaiting the response */
	TRST_HS_CONSUMED = 2,  /* responder: initiation accepted, response not yet written */
};

/* One handshake in progress.  Plain memory: embed it, zero it or leave it
 * to the functions below, which overwrite it whole when they start one.
 * After trst_hs_responder_consume() the caller may read `peer` (the
 * initiator's authenticated Ed25519 key), `remote_index` and
 * `payload`/`payload_len`; the rest is private. */
typedef struct trst_hs {
	int state; /* enum trst_hs_state */
	uint8_t peer[TRYST_KEY_SIZE];
	uint32_t local_index, remote_index;
	uint8_t payload[TRST_HS_PAYLOAD_MAX];
	size_t payload_len;
	/* private */
	struct trst_noise ns;
	uint8_t s_sk[32], e_sk[32];           /* initiator: own static and ephemeral secrets */
	uint8_t re[32], rs[32];               /* responder: the initiator's ephemeral and static */
	uint8_t mac1_key[32];                 /* initiator: mac1 key of the response */
	uint8_t cookie_key[32];               /* initiator: key of the responder's cookie reply */
	int cookie_armed;                     /* initiator: one cookie reply per initiation sent */
	uint8_t msg[TRST_HS_INITIATION_SIZE]; /* initiator: the initiation, to resend */
} trst_hs;

/* What a completed handshake yields, on either side. */
struct trst_hs_result {
	uint8_t send_key[TRST_HS_KEY_SIZE]; /* this side's sending key */
	uint8_t recv_key[TRST_HS_KEY_SIZE]; /* == the peer's send_key */
	uint8_t hash[TRST_HS_HASH_SIZE];    /* handshake hash: channel binding */
	uint8_t peer[TRYST_KEY_SIZE];       /* the peer's Ed25519 key */
	uint32_t local_index, remote_index;
	uint8_t payload[TRST_HS_PAYLOAD_MAX]; /* the peer's payload */
	size_t payload_len;
	int initiator; /* 1 on the initiator's side */
};

/* A cookie an initiator got from a responder (per responder address);
 * zero it before first use. */
struct trst_hs_cookie {
	uint8_t value[TRST_HS_COOKIE_SIZE];
	uint64_t received_us;
	int valid;
};

/* Start a handshake with the identity `responder` and write the
 * initiation (TRST_HS_INITIATION_SIZE bytes) to `out`.
 *  sender_index: the caller's name for this handshake and the session it
 *                becomes; the response carries it back.  Choose it at
 *                random and unique among the caller's live sessions.
 *  payload:      up to TRST_HS_PAYLOAD_MAX bytes, sent encrypted and
 *                authenticated (NULL if payload_len is 0).
 *  cookie:       NULL, or a cookie from this responder; it makes mac2 if
 *                it arrived less than TRST_HS_COOKIE_USE_US ago.
 * Copies what it needs from `id`.  Errors: TRYST_ERR_INVALID,
 * TRYST_ERR_BUFFER, TRYST_ERR_KEY_INVALID (responder is not a usable
 * key), TRYST_ERR_CRYPTO.  `hs` is written only on success. */
int trst_hs_initiate(trst_hs *hs, const tryst_identity *id, const uint8_t responder[TRYST_KEY_SIZE],
                     uint32_t sender_index, const uint8_t *payload, size_t payload_len,
                     const struct trst_hs_cookie *cookie, uint64_t now, uint8_t *out, size_t outcap,
                     size_t *outlen);

/* Take a cookie reply to the initiation `hs` sent last; on success
 * `cookie` holds the cookie and the caller sends trst_hs_resend().
 * Errors: TRYST_ERR_HS_TRUNCATED, _TYPE, _OVERSIZE, _INDEX (not for this
 * handshake), _REPLAY (a second reply to one initiation), _AUTH (does not
 * decrypt: forged or tampered).  Nothing is changed on failure. */
int trst_hs_consume_cookie(trst_hs *hs, const uint8_t *msg, size_t len, uint64_t now,
                           struct trst_hs_cookie *cookie);

/* Write the initiation `hs` sent again (same ephemeral key and timestamp),
 * with mac2 made from `cookie` if it is fresh.  For answering a cookie
 * reply; a lost response calls for a new trst_hs_initiate(), since the
 * responder refuses the same timestamp twice.  Errors: TRYST_ERR_INVALID
 * (no initiation in progress), TRYST_ERR_BUFFER. */
int trst_hs_resend(trst_hs *hs, const struct trst_hs_cookie *cookie, uint64_t now, uint8_t *out,
                   size_t outcap, size_t *outlen);

/* Take the response to the initiation in `hs`.  On success fills `res`
 * and wipes `hs`.  Errors: TRYST_ERR_HS_TRUNCATED, _TYPE, _OVERSIZE,
 * _INDEX (no initiation in progress, or another index), _MAC,
 * _WRONG_PEER (does not authenticate: whoever answered is not the key
 * dialed, or it was tampered with).  Nothing is changed on failure, so
 * the genuine response can still follow a forged one. */
int trst_hs_consume_response(trst_hs *hs, const uint8_t *msg, size_t len,
                             struct trst_hs_result *res);

/* A responder: its identity, cookie secrets and replay table.  Made by
 * trst_hs_responder_new() (the only allocation of this module, about
 * 230 KiB), released by trst_hs_responder_free() (NULL is fine). */
typedef struct trst_hs_responder trst_hs_responder;

/* Copies what it needs from `id`.  Errors: TRYST_ERR_INVALID,
 * TRYST_ERR_NOMEM, TRYST_ERR_CRYPTO, TRYST_ERR_KEY_INVALID. */
int trst_hs_responder_new(trst_hs_responder **out, const tryst_identity *id, uint64_t now);
void trst_hs_responder_free(trst_hs_responder *r);

/* Take an initiation that arrived from the address whose bytes are
 * addr/addr_len (any stable encoding of the source address and port; the
 * cookie is bound to it).  Checks, cheapest first: framing, mac1, then
 * mac2 (see doc/PROTOCOL.md, "mac1, mac2 and cookies"), and only then does any DH.
 *  under_load: the caller's judgement that it is busy; then only an
 *              initiation with a valid mac2 gets past the cookie check.
 * Returns 0: `hs` holds the authenticated initiation (hs->peer is the
 * initiator's key for the caller to accept or refuse); answer it with
 * trst_hs_respond().  TRYST_ERR_HS_COOKIE: send the cookie reply written
 * to `reply` (*reply_len bytes, never more than `len`).  Other errors
 * (TRYST_ERR_HS_TRUNCATED, _TYPE, _OVERSIZE, _MAC, _AUTH, _STALE, _REPLAY,
 * TRYST_ERR_INVALID, TRYST_ERR_BUFFER if reply_cap <
 * TRST_HS_COOKIE_REPLY_SIZE): drop the packet, send nothing.  Only a
 * successful return changes `hs` and the replay table. */
int trst_hs_responder_consume(trst_hs_responder *r, trst_hs *hs, const uint8_t *msg, size_t len,
                              const uint8_t *addr, size_t addr_len, int under_load, uint64_t now,
                              uint8_t *reply, size_t reply_cap, size_t *reply_len);

/* Answer the initiation in `hs`: writes the response
 * (TRST_HS_RESPONSE_MIN + payload_len bytes), fills `res` and wipes `hs`.
 * sender_index is the responder's name for the session, as for
 * trst_hs_initiate().  Errors: TRYST_ERR_INVALID (no initiation consumed,
 * payload too long), TRYST_ERR_BUFFER. */
int trst_hs_respond(trst_hs *hs, uint32_t sender_index, const uint8_t *payload, size_t payload_len,
                    uint8_t *out, size_t outcap, size_t *outlen, struct trst_hs_result *res);

/* Forget a handshake (sodium_memzero); it is then TRST_HS_IDLE. */
void trst_hs_wipe(trst_hs *hs);

/* Tests and test vectors only: replace the module's random source
 * (ephemeral keys, cookie secrets and nonces); NULL restores the system
 * RNG.  Never called by the library itself. */
void trst_hs_set_test_rng(void (*fn)(void *buf, size_t len));

#endif
