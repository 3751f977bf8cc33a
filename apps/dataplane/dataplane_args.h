/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef TERN_DATAPLANE_ARGS_H
#define TERN_DATAPLANE_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DP_MAX_SEGMENTS	      16
#define DP_MAX_PEERS	      16
#define DP_NAME_MAX	      48
#define DP_URI_MAX	      256
#define DP_MAX_TRANSPORTS     8
#define DP_TRANSPORT_NAME_MAX 16

/* Bits of dp_args.set: which options were given (the command line wins over the file). */
enum dp_opt {
	DP_OPT_NODE = 1u << 0,
	DP_OPT_ENGINE = 1u << 1,
	DP_OPT_SEGMENT = 1u << 2,
	DP_OPT_SLICE = 1u << 3,
	DP_OPT_DEADLINE = 1u << 4,
	DP_OPT_MAX_CLIENTS = 1u << 5,
	DP_OPT_LOG_LEVEL = 1u << 6,
	DP_OPT_DRAIN = 1u << 7,
	DP_OPT_CONFIG = 1u << 8,
	DP_OPT_DIRECTORY = 1u << 9,
	DP_OPT_LISTEN = 1u << 10,
	DP_OPT_SHM = 1u << 11,
	DP_OPT_IDLE = 1u << 12,
	DP_OPT_RDMA_LISTEN = 1u << 13,
	DP_OPT_FUTURES = 1u << 14,
	DP_OPT_AUTH_FILE = 1u << 15,
	DP_OPT_STORE = 1u << 16,
};

struct dp_segment_opt {
	char name[DP_NAME_MAX];
	uint64_t size;
};

/* --peer NODE=URI: where NODE's descriptors are (its p2p control port). */
struct dp_peer_opt {
	char node[DP_NAME_MAX];
	char uri[DP_URI_MAX];
};

/* --peer-transport NODE=TRANSPORT: pin NODE to one transport. */
struct dp_pin_opt {
	char node[DP_NAME_MAX];
	char transport[16];
};

/* --transport NAME[,KEY=VALUE...]: configure a transport (its own keys). */
struct dp_transport_opt {
	char name[DP_TRANSPORT_NAME_MAX];
	char args[256];
};

/* Options of tern-dataplane after the EAL's. Zero means "the default". */
struct dp_args {
	char node[DP_NAME_MAX];
	char engine[16];
	struct dp_segment_opt segments[DP_MAX_SEGMENTS];
	unsigned int nb_segments;
	uint64_t slice_bytes;
	uint64_t deadline_ms;
	uint64_t max_clients;
	uint64_t nb_futures; /* 0: the engine's default */
	uint64_t drain_ms;
	int log_level;		    /* RTE_LOG_* (1..8), 0 = unchanged */
	char directory[DP_URI_MAX]; /* "" = none */
	struct dp_peer_opt peers[DP_MAX_PEERS];
	unsigned int nb_peers;
	struct dp_pin_opt pins[DP_MAX_PEERS];
	unsigned int nb_pins;
	struct dp_transport_opt transports[DP_MAX_TRANSPORTS];
	unsigned int nb_transports;
	/* The older spellings of transport options (dp_args_transports()). */
	char listen[80];      /* --listen ADDR:PORT (tcp), checked; "" = none */
	char rdma_listen[80]; /* --rdma-listen ADDR:PORT (mlx5), checked; "" = none */
	char auth_file[256];  /* --auth-file (tcp), "" = none */
	bool shm_off;	      /* --shm off */
	bool idle_yield;      /* --idle yield */
	/* --store-capacity NAME: a --segment this node owns as store capacity. */
	char store[DP_NAME_MAX];
	char config[256];
	bool help;
	uint32_t set; /* enum dp_opt bits given so far */
};

/* Parses argv[1..argc-1] (the application's part). 0, or -EINVAL with a
 * one-line reason in err. Later options of the same kind override earlier
 * ones, except --segment which accumulates. */
int dp_args_parse(int argc, char **argv, struct dp_args *a, char *err, size_t errlen);

/* Applies "key = value" lines of a config file (same keys as the long options,
 * '#' comments, blank lines) for options the command line did not set. */
int dp_args_load_config(const char *path, struct dp_args *a, char *err, size_t errlen);

/* Same as dp_args_load_config, from a string (for tests). */
int dp_args_load_config_text(const char *text, struct dp_args *a, char *err, size_t errlen);

/*
 * The transports to configure, in order, as NAME and "key=value,..." args:
 * each --transport, with the older options folded in (--listen and
 * --auth-file are tcp's listen= and auth_file=, --rdma-listen is mlx5's
 * listen=), and shm with its defaults unless --shm off or a --transport shm.
 * Returns how many were written (at most @max), or -E2BIG.
 */
int dp_args_transports(const struct dp_args *a, struct dp_transport_opt *out, unsigned int max);

/* Prints --help. */
void dp_args_usage(const char *prog);

#endif
