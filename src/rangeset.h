/*
 * rangeset.h: a set of byte or packet-number ranges, kept sorted and merged.
 * Used for what a stream has received, what the peer has acknowledged and
 * what must be sent again.  A set may be capped to a number of ranges so a
 * peer cannot make it grow without bound by sending fragments.
 */
#ifndef TRYST_RANGESET_H
#define TRYST_RANGESET_H

#include <stddef.h>
#include <stdint.h>

struct trst_range {
	uint64_t start, end; /* [start, end) */
};

struct trst_rangeset {
	struct trst_range *r; /* sorted by start; never touching or overlapping */
	size_t n, cap;
	size_t max; /* most ranges allowed; 0 = no cap */
};

void trst_rangeset_init(struct trst_rangeset *s, size_t max_ranges);
void trst_rangeset_free(struct trst_rangeset *s);
void trst_rangeset_clear(struct trst_rangeset *s);

/* Add [start, end), merging with neighbours.  Errors: TRYST_ERR_NOMEM,
 * TRYST_ERR_BUFFER (the set would need more than max ranges; unchanged). */
int trst_rangeset_add(struct trst_rangeset *s, uint64_t start, uint64_t end);

/* Remove [start, end) (may split a range; may then fail with
 * TRYST_ERR_NOMEM/BUFFER, leaving the set unchanged). */
int trst_rangeset_remove(struct trst_rangeset *s, uint64_t start, uint64_t end);

/* Is all of [start, end) in the set? */
int trst_rangeset_covers(const struct trst_rangeset *s, uint64_t start, uint64_t end);

/* Take the first (lowest) up to max_len bytes out of the set. Returns 0 and
 * fills *start, *len, or -1 when the set is empty. */
int trst_rangeset_pop_front(struct trst_rangeset *s, uint64_t max_len, uint64_t *start,
                            uint64_t *len);

/* Remove everything below `base`. */
void trst_rangeset_drop_below(struct trst_rangeset *s, uint64_t base);

/* If a range starts at or before `base` and reaches past it, its end;
 * else `base`. */
uint64_t trst_rangeset_reach(const struct trst_rangeset *s, uint64_t base);

/* Total number of values in the set. */
uint64_t trst_rangeset_total(const struct trst_rangeset *s);

#endif
