/*
 * knock.h: the sealed "knock" a dialer leaves in a listener's DHT inbox
 * (doc/PROTOCOL.md, "DHT storage and knocks").  Sans-I/O: bytes in, bytes
 * out; src/dht.c puts and listens.
 */
#ifndef TRYST_KNOCK_H
#define TRYST_KNOCK_H

#include <stddef.h>
#include <stdint.h>

#include "tryst.h"

#define TRST_KNOCK_VERSION 1
#define TRST_KNOCK_TOKEN   16
#define TRST_KNOCK_SIG     64
/* crypto_box_seal: ephemeral X25519 public key (32) + Poly1305 tag (16). */
#define TRST_KNOCK_OVERHEAD 48
#define TRST_KNOCK_PAD      256
/* version, token, u16 length, record, signature: at most 688 -> 768. */
#define TRST_KNOCK_BODY_MAX 768
#define TRST_KNOCK_MAX_SIZE (TRST_KNOCK_OVERHEAD + TRST_KNOCK_BODY_MAX)
/* A knock whose record is older than this is refused (a replay): the
 * dialer knocks with a fresh record each time. */
#define TRST_KNOCK_FRESH_US (120ull * 1000000ull)

/* Seal a knock from `dialer` (whose signed encoded record `record` is) to
 * the listener `listener_key`, carrying `token`.  Writes at most
 * TRST_KNOCK_MAX_SIZE bytes.  Errors: TRYST_ERR_INVALID (record empty, too
 * long, or not parseable as dialer's record), TRYST_ERR_KEY_INVALID (the
 * listener key has no X25519 form), TRYST_ERR_BUFFER. */
int trst_knock_seal(const tryst_identity *dialer, const uint8_t listener_key[TRYST_KEY_SIZE],
                    const uint8_t token[TRST_KNOCK_TOKEN], const uint8_t *record, size_t len,
                    uint8_t *out, size_t outcap, size_t *outlen);

/* Open a knock addressed to `listener` and check it: the record verifies
 * (tryst_record_decode at now_us), the knock signature is the record key's
 * over this listener and token, and the record is not older than
 * TRST_KNOCK_FRESH_US.  On success fills *dialer, token, and (if raw is
 * not NULL; TRYST_RECORD_MAX_SIZE bytes) the encoded record and *rawlen.
 * Errors: TRYST_ERR_KNOCK_MALFORMED (size, version, length, padding),
 * TRYST_ERR_KNOCK_OPEN (not for this listener, or tampered),
 * TRYST_ERR_KNOCK_STALE, TRYST_ERR_RECORD_* (the record inside),
 * TRYST_ERR_RECORD_SIGNATURE also for a bad knock signature. */
int trst_knock_open(const tryst_identity *listener, const uint8_t *knock, size_t len,
                    uint64_t now_us, tryst_record *dialer, uint8_t token[TRST_KNOCK_TOKEN],
                    uint8_t *raw, size_t *rawlen);

#endif
