/*
 * internal.h: helpers shared by the library's modules; never installed.
 */
#ifndef TRYST_INTERNAL_H
#define TRYST_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "tryst.h"

#define TRST_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* The one allocation wrapper: zeroed memory, overflow-checked count * size.
 * Returns NULL on failure (callers map that to TRYST_ERR_NOMEM). */
void *trst_calloc(size_t count, size_t size);
void trst_free(void *p);

/* Logging to the callback installed with tryst_log_set(); silent by default.
 * Format is checked like printf. */
void trst_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int trst_log_enabled(int level);
#define TRST_LOG(level, ...)                                                                       \
	do {                                                                                       \
		if (trst_log_enabled(level))                                                       \
			trst_log(level, __VA_ARGS__);                                              \
	} while (0)

/* Big-endian (network order) integer coding. */
static inline void trst_put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}
static inline void trst_put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}
static inline void trst_put_u64(uint8_t *p, uint64_t v)
{
	trst_put_u32(p, (uint32_t)(v >> 32));
	trst_put_u32(p + 4, (uint32_t)v);
}
static inline uint16_t trst_get_u16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}
static inline uint32_t trst_get_u32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline uint64_t trst_get_u64(const uint8_t *p)
{
	return ((uint64_t)trst_get_u32(p) << 32) | trst_get_u32(p + 4);
}

/* Hex helpers (lowercase).  trst_hex_decode returns the number of bytes
 * decoded or -1 on a non-hex character or odd length. */
void trst_hex_encode(const uint8_t *in, size_t len, char *out);
long trst_hex_decode(const char *in, size_t len, uint8_t *out, size_t outcap);

/* Internal record parsing without signature or time checks: the fuzzer and
 * the encoder round-trip test use it.  Returns 0 or TRYST_ERR_RECORD_*;
 * *signed_len is the number of bytes the signature covers. */
int trst_record_parse(const uint8_t *buf, size_t len, tryst_record *out, size_t *signed_len);

/* The address encoding of records and rendezvous messages (doc/PROTOCOL.md,
 * "Records"): family u8 (4|6), 4|16 address bytes, port u16.
 * trst_addr_size: encoded size, or 0 if the address cannot be encoded
 * (not AF_INET/AF_INET6, port 0, unspecified).  trst_addr_put writes it
 * (an IPv4-mapped IPv6 address as IPv4) and returns the end.
 * trst_addr_parse reads one from `avail` bytes at p, sets *used, and
 * returns 0, TRYST_ERR_RECORD_TRUNCATED or TRYST_ERR_RECORD_MALFORMED. */
struct sockaddr_storage;
size_t trst_addr_size(const struct sockaddr_storage *ss);
uint8_t *trst_addr_put(uint8_t *p, const struct sockaddr_storage *ss);
int trst_addr_parse(const uint8_t *p, size_t avail, struct sockaddr_storage *ss, size_t *used);

/* A copy of an identity (for objects that keep their own). */
int trst_identity_dup(const tryst_identity *id, tryst_identity **out);
/* The X25519 key pair of an identity (its Ed25519 keys mapped to
 * Montgomery form), for the Noise handshake.  The caller wipes `sk`.
 * Returns 0 or TRYST_ERR_KEY_INVALID. */
int trst_identity_x25519(const tryst_identity *id, uint8_t sk[32], uint8_t pk[32]);

struct sockaddr;
/* Same family, address and port; an IPv4-mapped IPv6 address equals the
 * IPv4 one (a dual-stack socket reports IPv4 peers that way). */
int trst_sockaddr_equal(const struct sockaddr *a, const struct sockaddr *b);

#endif
