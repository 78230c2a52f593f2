/*
 * dhtnodes: a private OpenDHT network for tests and benchmarks.  Starts N
 * bare DHT nodes in one process (each bootstrapping from the one before),
 * prints their UDP ports on one line, and serves until SIGINT/SIGTERM.
 *
 *   tests/dhtnodes [-n N] [--network ID] [--bootstrap HOST:PORT]
 *
 * The first node bootstraps from --bootstrap when given (to join an
 * existing private network), else from nobody: nothing is ever sent
 * beyond the addresses given.
 */
#include "config.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <event2/util.h>

#include "dht.h"

#define MAX_NODES 64

static void stop(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	event_base_loopexit(arg, NULL);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {{"nodes", required_argument, NULL, 'n'},
	                                         {"network", required_argument, NULL, 'N'},
	                                         {"bootstrap", required_argument, NULL, 'b'},
	                                         {NULL, 0, NULL, 0}};
	trst_dht *dht[MAX_NODES] = {0};
	tryst_identity *ids[MAX_NODES] = {0};
	struct sockaddr_storage prev, first;
	int have_first = 0, opt, n = 5, status = 1;
	unsigned long network = 0;

	while ((opt = getopt_long(argc, argv, "n:N:b:", longopts, NULL)) != -1) {
		switch (opt) {
		case 'n': n = atoi(optarg); break;
		case 'N': network = strtoul(optarg, NULL, 0); break;
		case 'b': {
			int len = (int)sizeof first;
			memset(&first, 0, sizeof first);
			if (evutil_parse_sockaddr_port(optarg, (struct sockaddr *)&first, &len) < 0) {
				fprintf(stderr, "dhtnodes: bad --bootstrap '%s'\n", optarg);
				return 2;
			}
			have_first = 1;
			break;
		}
		default:
			fprintf(stderr, "usage: dhtnodes [-n N] [--network ID] [--bootstrap H:P]\n");
			return 2;
		}
	}
	if (n < 1 || n > MAX_NODES) {
		fprintf(stderr, "dhtnodes: -n takes 1 to %d\n", MAX_NODES);
		return 2;
	}
	if (tryst_init() < 0)
		return 1;
	struct event_base *base = event_base_new();
	struct event *sigint = evsignal_new(base, SIGINT, stop, base);
	struct event *sigterm = evsignal_new(base, SIGTERM, stop, base);
	evsignal_add(sigint, NULL);
	evsignal_add(sigterm, NULL);
	signal(SIGPIPE, SIG_IGN);
	for (int i = 0; i < n; i++) {
		struct trst_dht_config dc;
		memset(&dc, 0, sizeof dc);
		if (tryst_identity_generate(&ids[i]) < 0)
			goto out;
		dc.id = ids[i];
		dc.network = (uint32_t)network;
		if (i || have_first) {
			dc.bootstrap = i ? &prev : &first;
			dc.n_bootstrap = 1;
		}
		int rc = trst_dht_new(base, &dc, &dht[i]);
		if (rc < 0) {
			fprintf(stderr, "dhtnodes: node %d: %s\n", i, tryst_strerror(rc));
			goto out;
		}
		struct sockaddr_in *s4 = (struct sockaddr_in *)&prev;
		memset(&prev, 0, sizeof prev);
		s4->sin_family = AF_INET;
		s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		s4->sin_port = htons(trst_dht_port(dht[i]));
		printf("%s%u", i ? " " : "", trst_dht_port(dht[i]));
	}
	printf("\n");
	fflush(stdout);
	event_base_dispatch(base);
	status = 0;
out:
	for (int i = 0; i < n; i++) {
		trst_dht_free(dht[i]);
		tryst_identity_free(ids[i]);
	}
	event_free(sigint);
	event_free(sigterm);
	event_base_free(base);
	return status;
}
