/*
 * rxpool.h: memory for received stream data on its way to the application.
 *
 * Each in-order STREAM frame is copied once, into the stream bufferevent's
 * evbuffer.  With evbuffer_add that is a fresh malloc per packet, and as
 * the application drains and frees those chains the allocator keeps
 * giving memory back to the kernel and faulting it in again: perf showed
 * the receiver spending about as long in page faults under evbuffer_add as
 * in AES-GCM.  The pool copies into large blocks it keeps and lends them
 * to evbuffers by reference (evbuffer_add_reference); a block comes back
 * when every chain that points into it has been drained, and is reused
 * while its memory is still warm.
 *
 * Better still, the node opens each packet straight into the pool
 * (trst_rxpool_scratch, trst_conn_recv_into): stream data that arrives in
 * order is then already where the application will read it, and
 * trst_rxpool_add lends it without copying.
 *
 * Single-threaded, like the node: the cleanup callbacks run where the
 * application drains its evbuffers, which must be the node's thread.
 */
#ifndef TRYST_RXPOOL_H
#define TRYST_RXPOOL_H

#include <stddef.h>
#include <stdint.h>

struct evbuffer;
struct trst_rxpool;

/* A pool of block_size-byte blocks keeping at most max_free idle ones.
 * Errors: TRYST_ERR_NOMEM, TRYST_ERR_INVALID (block_size 0). */
int trst_rxpool_new(size_t block_size, size_t max_free, struct trst_rxpool **out);

/* Append a copy of data to buf.  Bytes larger than a block are added the
 * plain way (evbuffer_add).  Errors: TRYST_ERR_NOMEM. */
int trst_rxpool_add(struct trst_rxpool *p, struct evbuffer *buf, const uint8_t *data, size_t len);

/* Room for `len` bytes in the pool (NULL when len exceeds a block, or no
 * memory), to open one packet into.  Until trst_rxpool_scratch_done, an
 * add of bytes inside that room lends them where they are instead of
 * copying; adds of other bytes never write into it. */
uint8_t *trst_rxpool_scratch(struct trst_rxpool *p, size_t len);
void trst_rxpool_scratch_done(struct trst_rxpool *p);

/* The owner lets go.  Blocks still lent to evbuffers keep the pool alive;
 * it is freed when the last one comes back.  NULL-safe. */
void trst_rxpool_release(struct trst_rxpool *p);

/* Blocks allocated and not yet freed (tests). */
size_t trst_rxpool_live(const struct trst_rxpool *p);

#endif
