/*
 * packet.h: protection of data packets (doc/PROTOCOL.md,
 * "Data packets"); never installed.
 *
 *   0      type: 0x20 | key phase (0x01)
 *   1..4   u32 receiver index (chosen by the receiver in the handshake)
 *   5..12  u64 packet number
 *   13..   AEAD(payload), additional data = the 13 header bytes
 *   last16 tag
 *
 * AEAD is AES-256-GCM or ChaCha20-Poly1305 (IETF), one per connection,
 * with key and IV derived from a 32-byte traffic secret per direction and
 * the nonce made of IV and packet number as in QUIC (RFC 9001 section
 * 5.3).  Keys are updated as in RFC 9001 section 6; received packets pass
 * a sliding replay window (RFC 6479) once they authenticate.
 *
 * Sans-I/O: no clock, no socket, no allocation.  struct trst_pkt_crypto
 * is plain memory (about 3 KiB) that the connection embeds; everything in
 * it is private except the fields marked readable.
 */
#ifndef TRYST_PACKET_H
#define TRYST_PACKET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <sodium.h>

#define TRST_PKT_TYPE_DATA  0x20 /* type byte of a data packet, phase bit clear */
#define TRST_PKT_KEY_PHASE  0x01 /* the key phase bit of the type byte */
#define TRST_PKT_HEADER_LEN 13
#define TRST_PKT_TAG_LEN    16
#define TRST_PKT_OVERHEAD   (TRST_PKT_HEADER_LEN + TRST_PKT_TAG_LEN)
#define TRST_PKT_SECRET_LEN 32
#define TRST_PKT_KEY_LEN    32
#define TRST_PKT_IV_LEN     12

/* Packet numbers are varints in ACK frames, so they stop at 2^62 - 1
 * (RFC 9000 section 12.3). */
#define TRST_PKT_PN_MAX ((1ull << 62) - 1)

/* Replay window: 64 blocks of 64 bits, of which one block is always being
 * refilled (RFC 6479 section 2), so 4032 packet numbers below the highest
 * one received are remembered. */
#define TRST_PKT_REPLAY_BLOCKS 64
#define TRST_PKT_REPLAY_WINDOW ((TRST_PKT_REPLAY_BLOCKS - 1) * 64)

/* The AEADs, by the number the handshake uses to negotiate them. */
enum trst_aead {
	TRST_AEAD_CHACHA20_POLY1305 = 1,
	TRST_AEAD_AES256_GCM = 2,
};

/* Limits of RFC 9001 section 6.6, in packets.  The sender updates its key
 * at half the confidentiality limit, so an update that the peer is slow to
 * confirm still has room; ChaCha20-Poly1305 has no practical
 * confidentiality limit but its keys are renewed every 2^30 packets
 * anyway, which bounds what a key compromised later reveals. */
#define TRST_PKT_AES_UPDATE          (1ull << 22)
#define TRST_PKT_AES_CONFIDENTIALITY (1ull << 23)
#define TRST_PKT_AES_INTEGRITY       (1ull << 52)
#define TRST_PKT_CHACHA_UPDATE       (1ull << 30)
#define TRST_PKT_CHACHA_INTEGRITY    (1ull << 36)

/* One generation of the keys of one direction. */
struct trst_pkt_key {
	union {
		crypto_aead_aes256gcm_state aes; /* expanded key (beforenm) */
		uint8_t chacha[TRST_PKT_KEY_LEN];
	} k;
	/* For OpenSSL (HAVE_OPENSSL): the key itself, and a number no other
	 * key of this process has, by which packet.c finds its cipher context
	 * (0: none). */
	uint8_t raw[TRST_PKT_KEY_LEN];
	uint64_t id;
	uint8_t iv[TRST_PKT_IV_LEN];
	uint8_t secret[TRST_PKT_SECRET_LEN]; /* the next generation derives from it */
};

struct trst_pkt_crypto {
	int aead; /* readable: enum trst_aead */
	uint32_t local_index, remote_index;

	/* sending */
	struct trst_pkt_key send;
	uint64_t send_gen;      /* readable: key generation; the phase bit is gen & 1 */
	uint64_t next_pn;       /* readable: the number the next packet gets */
	uint64_t send_count;    /* packets sealed with the current key */
	uint64_t send_first_pn; /* first packet number of the current generation */
	int send_confirmed;     /* the peer acknowledged a packet of this generation */
	uint64_t update_limit;  /* update the key after this many packets */
	uint64_t confidentiality_limit;

	/* receiving */
	struct trst_pkt_key recv_prev, recv_cur, recv_next;
	int have_prev;
	uint64_t recv_gen;      /* readable: generation of recv_cur */
	uint64_t recv_first_pn; /* lowest packet number opened with recv_cur */
	int recv_any;           /* a packet has been opened with recv_cur */
	uint64_t replay_top;    /* highest packet number accepted */
	uint64_t replay[TRST_PKT_REPLAY_BLOCKS];
	uint64_t auth_failures; /* readable: across all keys */
	uint64_t integrity_limit;
};

/* The AEAD this machine runs fastest: AES-256-GCM where the CPU has
 * AES-NI and PCLMUL (libsodium's crypto_aead_aes256gcm_is_available()),
 * ChaCha20-Poly1305 otherwise.  The handshake offers it; both sides must
 * be able to run what they agree on. */
int trst_aead_local_best(void);
/* Whether this machine can run `aead` (1) or not (0). */
int trst_aead_available(int aead);

/* The key and IV of a traffic secret (doc/PROTOCOL.md, "AEAD and keys"):
 *   key = BLAKE2b-256(key = secret, "tryst/pkt/key")
 *   iv  = first 12 bytes of BLAKE2b-128(key = secret, "tryst/pkt/iv") */
void trst_pkt_derive(const uint8_t secret[TRST_PKT_SECRET_LEN], uint8_t key[TRST_PKT_KEY_LEN],
                     uint8_t iv[TRST_PKT_IV_LEN]);
/* The next generation's secret: BLAKE2b-256(key = cur, "tryst/ku/v1").
 * cur and next may be the same buffer. */
void trst_pkt_next_secret(const uint8_t cur[TRST_PKT_SECRET_LEN],
                          uint8_t next[TRST_PKT_SECRET_LEN]);

/* Set up `c` for a connection from the handshake's outcome.
 *  aead:         enum trst_aead, as negotiated.
 *  send_secret:  this side's sending secret; recv_secret: the peer's.
 *  local_index:  the index this side chose; every packet it receives
 *                carries it.
 *  remote_index: the index the peer chose; written into every packet sent.
 * Copies the secrets (the caller wipes its own).  Errors: TRYST_ERR_INVALID
 * (an unknown AEAD or one this machine cannot run), TRYST_ERR_CRYPTO. */
int trst_pkt_crypto_init(struct trst_pkt_crypto *c, int aead,
                         const uint8_t send_secret[TRST_PKT_SECRET_LEN],
                         const uint8_t recv_secret[TRST_PKT_SECRET_LEN], uint32_t local_index,
                         uint32_t remote_index);

/* Forget every key (sodium_memzero of the whole struct). */
void trst_pkt_crypto_wipe(struct trst_pkt_crypto *c);

/* Tests: 1 makes this thread seal and open with libsodium even when built
 * with OpenSSL (the two must agree byte for byte); returns 1 when this
 * build has the OpenSSL path at all. */
int trst_pkt_test_use_libsodium(int on);

/* Replace the limits (in packets; 0 keeps the current one): the packet
 * count after which trst_pkt_need_key_update() asks for an update, the
 * count past which trst_pkt_seal() refuses to use a key, and the number of
 * authentication failures past which trst_pkt_open() refuses everything.
 * The defaults are the AEAD's (TRST_PKT_AES_*, TRST_PKT_CHACHA_*); tests
 * make them tiny. */
void trst_pkt_set_limits(struct trst_pkt_crypto *c, uint64_t update, uint64_t confidentiality,
                         uint64_t integrity);

/* Protect a packet in place.  The caller has put payload_len bytes of
 * frames at out + TRST_PKT_HEADER_LEN; this writes the header before them
 * and the tag after them, with the next packet number, which it stores in
 * *pn (may be NULL).  cap is the room at out.  Returns the packet's length
 * (payload_len + TRST_PKT_OVERHEAD) or TRYST_ERR_BUFFER,
 * TRYST_ERR_PACKET_LIMIT (the key has reached its confidentiality limit
 * because the peer never confirmed an update, or packet numbers are used
 * up: close the connection), TRYST_ERR_INVALID.  Never reuses a number. */
ssize_t trst_pkt_seal(struct trst_pkt_crypto *c, uint8_t *out, size_t payload_len, size_t cap,
                      uint64_t *pn);

/* The same, with the payload's plaintext read from `plain` (payload_len
 * bytes; plain == out + TRST_PKT_HEADER_LEN is trst_pkt_seal) and its
 * ciphertext written at out + TRST_PKT_HEADER_LEN: the send path seals
 * stream data straight from the stream's buffer instead of copying it into
 * the datagram first.  `plain` must not overlap the rest of out. */
ssize_t trst_pkt_seal_from(struct trst_pkt_crypto *c, uint8_t *out, const uint8_t *plain,
                           size_t payload_len, size_t cap, uint64_t *pn);

/* Remove the protection of a received packet in place.  On success the
 * payload is at pkt + TRST_PKT_HEADER_LEN and the return value is its
 * length; *pn (may be NULL) gets the packet number.  Checks, in order: the
 * type (TRYST_ERR_PACKET_TYPE), the length (TRYST_ERR_PACKET_TRUNCATED),
 * the receiver index and the AEAD under the keys the phase bit and packet
 * number select (TRYST_ERR_PACKET_AUTH), the replay window
 * (TRYST_ERR_PACKET_REPLAY).  Only a packet that passes all of them
 * changes `c`: it marks its number as seen, and a packet of the next key
 * phase rotates the receive keys and, if this side has not updated yet,
 * its send keys too (RFC 9001 section 6.2).  Failed authentications are
 * counted; past the integrity limit every call returns
 * TRYST_ERR_PACKET_LIMIT and the connection must be closed (RFC 9001
 * section 6.6).  On failure the payload bytes are unspecified (libsodium
 * zeroes a plaintext that does not authenticate). */
ssize_t trst_pkt_open(struct trst_pkt_crypto *c, uint8_t *pkt, size_t len, uint64_t *pn);

/* The same, with the plaintext written to `plain` (room for len -
 * TRST_PKT_OVERHEAD bytes; pkt + TRST_PKT_HEADER_LEN is trst_pkt_open)
 * instead of over the ciphertext: the node opens packets straight into
 * the memory that carries stream data to the application (rxpool.h).
 * pkt is left as it was; on failure the bytes at plain are unspecified. */
ssize_t trst_pkt_open_to(struct trst_pkt_crypto *c, const uint8_t *pkt, size_t len, uint8_t *plain,
                         uint64_t *pn);

/* The receiver index of a datagram, without any cryptography: lets the
 * socket layer find the connection before opening the packet.  Errors:
 * TRYST_ERR_PACKET_TRUNCATED (empty, or shorter than a header and a tag),
 * TRYST_ERR_PACKET_TYPE (not a data packet: a handshake message, STUN...). */
int trst_pkt_peek_index(const uint8_t *pkt, size_t len, uint32_t *index);

/* Whether the sender should update its key now (1) or not (0): the key has
 * protected `update` packets and the peer has acknowledged a packet sent
 * with it, so it holds the keys of the next generation (RFC 9001 section
 * 6.1 forbids a second update before that). */
int trst_pkt_need_key_update(const struct trst_pkt_crypto *c);

/* Move the sending side to the next key generation (flips the phase bit).
 * Errors: TRYST_ERR_INVALID when the peer has not yet acknowledged a packet
 * of the current generation (an update is still in flight). */
int trst_pkt_key_update(struct trst_pkt_crypto *c);

/* Tell the module that the peer acknowledged packet `pn` (the largest
 * acknowledged of an ACK frame that arrived in an authenticated packet).
 * An acknowledged packet of the current generation confirms the key
 * update, permitting the next one. */
void trst_pkt_on_ack(struct trst_pkt_crypto *c, uint64_t pn);

/* Forget the previous receive keys: call about three PTOs after a key
 * phase change (RFC 9001 section 6.5), when no packet of the old phase can
 * still be in flight.  Later packets of that phase fail to authenticate. */
void trst_pkt_drop_prev_keys(struct trst_pkt_crypto *c);

/* Whether the authentication failures have exceeded the integrity limit
 * (1): the connection must be closed (RFC 9001 section 6.6). */
int trst_pkt_integrity_exceeded(const struct trst_pkt_crypto *c);

/* Tests only: make the next packet sealed get number `pn` (which must not
 * be lower than one already used: packet numbers are never reused).
 * Errors: TRYST_ERR_INVALID. */
int trst_pkt_test_set_next_pn(struct trst_pkt_crypto *c, uint64_t pn);

#endif
