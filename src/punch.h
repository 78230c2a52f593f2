/*
 * punch.h: the small datagrams of dialing by key (doc/PROTOCOL.md,
 * "Dialing by key and punching"): PUNCH probes, which the dialed side
 * sends to open its NAT towards a dialer and which carry the dialer's
 * token, and KEY_QUERY / KEY_REPLY, by which a client learns a server's
 * key.  Encoders and decoders only; node.c, disco.c, client.c and
 * server.c send and receive them.
 */
#ifndef TRYST_PUNCH_H
#define TRYST_PUNCH_H

#include <stddef.h>
#include <stdint.h>

#include "internal.h"

#define TRST_TOKEN_SIZE 16

/* PUNCH: type, version, the 16-byte token from the dialer's knock or
 * CONNECT.  Smaller than the initiation it may trigger, but only someone
 * who read the token (the dialed key's holder) can aim initiations with
 * it. */
#define TRST_PUNCH_TYPE    0x40
#define TRST_PUNCH_VERSION 1
#define TRST_PUNCH_SIZE    (2 + TRST_TOKEN_SIZE)

/* KEY_QUERY / KEY_REPLY: a client that was not given a server's key asks
 * for it (trust on first use; pin KEY@HOST:PORT to trust nothing on the
 * path).  The query is padded so the reply is smaller. */
#define TRST_KEY_QUERY_TYPE    0x14
#define TRST_KEY_REPLY_TYPE    0x15
#define TRST_KEY_QUERY_VERSION 1
#define TRST_KEY_QUERY_SIZE    64
#define TRST_KEY_REPLY_SIZE    (2 + TRYST_KEY_SIZE)

void trst_punch_encode(const uint8_t token[TRST_TOKEN_SIZE], uint8_t out[TRST_PUNCH_SIZE]);
/* *token points into buf.  Errors: TRYST_ERR_PROBE_MALFORMED (type,
 * length or version). */
int trst_punch_decode(const uint8_t *buf, size_t len, const uint8_t **token);

void trst_key_query_encode(uint8_t out[TRST_KEY_QUERY_SIZE]);
/* Errors: TRYST_ERR_PROBE_MALFORMED (type, length, version, padding). */
int trst_key_query_decode(const uint8_t *buf, size_t len);

void trst_key_reply_encode(const uint8_t key[TRYST_KEY_SIZE], uint8_t out[TRST_KEY_REPLY_SIZE]);
/* *key points into buf.  Errors: TRYST_ERR_PROBE_MALFORMED,
 * TRYST_ERR_KEY_INVALID (not a usable Ed25519 point). */
int trst_key_reply_decode(const uint8_t *buf, size_t len, const uint8_t **key);

#endif
