/*
 * pipe.h: moving bytes between stdin/stdout and a tryst stream, with
 * backpressure both ways, for `tryst listen` and `tryst connect`.
 */
#ifndef TRYST_CLI_PIPE_H
#define TRYST_CLI_PIPE_H

#include <stdint.h>

#include "tryst.h"

struct cli_pipe;

/* Called once: status 0 when the stream ended cleanly in both directions
 * (all we sent is acknowledged, and the peer finished), else 1. */
typedef void (*cli_pipe_done_fn)(struct cli_pipe *p, int status, void *arg);

/* Start piping fd `in` into the stream and the stream into fd `out`.
 * Regular files are read and written directly; pipes, terminals and
 * sockets through the event loop. */
struct cli_pipe *cli_pipe_start(struct event_base *base, tryst_stream *st, int in, int out,
                                cli_pipe_done_fn done, void *arg);
void cli_pipe_free(struct cli_pipe *p);
/* The peer closed the connection cleanly: enough to finish if its side of
 * the stream has ended, even if our last acknowledgement never came. */
void cli_pipe_conn_closed(struct cli_pipe *p, int err);
uint64_t cli_pipe_bytes_in(const struct cli_pipe *p);
uint64_t cli_pipe_bytes_out(const struct cli_pipe *p);

#endif
