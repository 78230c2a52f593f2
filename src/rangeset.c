/*
 * rangeset.c: sorted, merged ranges in a growable array.  Sets are small in
 * practice (a handful of holes), so linear scans beat anything cleverer.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "rangeset.h"

void trst_rangeset_init(struct trst_rangeset *s, size_t max_ranges)
{
	memset(s, 0, sizeof *s);
	s->max = max_ranges;
}

void trst_rangeset_free(struct trst_rangeset *s)
{
	free(s->r);
	memset(s, 0, sizeof *s);
}

void trst_rangeset_clear(struct trst_rangeset *s)
{
	s->n = 0;
}

static int reserve(struct trst_rangeset *s, size_t need)
{
	if (s->max && need > s->max)
		return TRYST_ERR_BUFFER;
	if (need <= s->cap)
		return 0;
	size_t cap = s->cap ? s->cap * 2 : 4;
	while (cap < need)
		cap *= 2;
	struct trst_range *r = realloc(s->r, cap * sizeof *r);
	if (!r)
		return TRYST_ERR_NOMEM;
	s->r = r;
	s->cap = cap;
	return 0;
}

int trst_rangeset_add(struct trst_rangeset *s, uint64_t start, uint64_t end)
{
	size_t i, j;

	if (start >= end)
		return 0;
	/* Fast path: appending at or after the last range (in-order data). */
	if (s->n && s->r[s->n - 1].end >= start && s->r[s->n - 1].start <= start) {
		if (end > s->r[s->n - 1].end)
			s->r[s->n - 1].end = end;
		return 0;
	}
	/* i: first range whose end reaches start (could merge or follows). */
	for (i = 0; i < s->n && s->r[i].end < start; i++)
		;
	/* j: first range that starts after end (cannot merge). */
	for (j = i; j < s->n && s->r[j].start <= end; j++)
		;
	if (i == j) { /* no overlap: insert at i */
		int rc = reserve(s, s->n + 1);
		if (rc < 0)
			return rc;
		memmove(&s->r[i + 1], &s->r[i], (s->n - i) * sizeof s->r[0]);
		s->r[i].start = start;
		s->r[i].end = end;
		s->n++;
		return 0;
	}
	/* merge ranges i..j-1 with [start, end) into range i */
	if (s->r[i].start < start)
		start = s->r[i].start;
	if (s->r[j - 1].end > end)
		end = s->r[j - 1].end;
	s->r[i].start = start;
	s->r[i].end = end;
	memmove(&s->r[i + 1], &s->r[j], (s->n - j) * sizeof s->r[0]);
	s->n -= j - i - 1;
	return 0;
}

int trst_rangeset_remove(struct trst_rangeset *s, uint64_t start, uint64_t end)
{
	if (start >= end)
		return 0;
	for (size_t i = 0; i < s->n; i++) {
		struct trst_range *r = &s->r[i];
		if (r->end <= start)
			continue;
		if (r->start >= end)
			break;
		if (r->start < start && r->end > end) { /* split */
			int rc = reserve(s, s->n + 1);
			if (rc < 0)
				return rc;
			r = &s->r[i];
			memmove(&s->r[i + 1], &s->r[i], (s->n - i) * sizeof s->r[0]);
			s->n++;
			s->r[i].end = start;
			s->r[i + 1].start = end;
			return 0;
		}
		if (r->start < start) {
			r->end = start;
		} else if (r->end > end) {
			r->start = end;
		} else { /* wholly inside: delete */
			memmove(&s->r[i], &s->r[i + 1], (s->n - i - 1) * sizeof s->r[0]);
			s->n--;
			i--;
		}
	}
	return 0;
}

int trst_rangeset_covers(const struct trst_rangeset *s, uint64_t start, uint64_t end)
{
	if (start >= end)
		return 1;
	for (size_t i = 0; i < s->n; i++) {
		if (s->r[i].start > start)
			return 0;
		if (s->r[i].end >= end)
			return 1;
		if (s->r[i].end > start)
			return 0;
	}
	return 0;
}

int trst_rangeset_pop_front(struct trst_rangeset *s, uint64_t max_len, uint64_t *start,
                            uint64_t *len)
{
	if (!s->n || !max_len)
		return -1;
	struct trst_range *r = &s->r[0];
	*start = r->start;
	*len = r->end - r->start < max_len ? r->end - r->start : max_len;
	r->start += *len;
	if (r->start == r->end) {
		memmove(&s->r[0], &s->r[1], (s->n - 1) * sizeof s->r[0]);
		s->n--;
	}
	return 0;
}

void trst_rangeset_drop_below(struct trst_rangeset *s, uint64_t base)
{
	size_t i = 0;
	while (i < s->n && s->r[i].end <= base)
		i++;
	if (i) {
		memmove(&s->r[0], &s->r[i], (s->n - i) * sizeof s->r[0]);
		s->n -= i;
	}
	if (s->n && s->r[0].start < base)
		s->r[0].start = base;
}

uint64_t trst_rangeset_reach(const struct trst_rangeset *s, uint64_t base)
{
	for (size_t i = 0; i < s->n; i++) {
		if (s->r[i].start > base)
			break;
		if (s->r[i].end > base)
			return s->r[i].end;
	}
	return base;
}

uint64_t trst_rangeset_total(const struct trst_rangeset *s)
{
	uint64_t t = 0;
	for (size_t i = 0; i < s->n; i++)
		t += s->r[i].end - s->r[i].start;
	return t;
}
