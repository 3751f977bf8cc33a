/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef TERN_PERF_ARGS_H
#define TERN_PERF_ARGS_H

/**
 * @file
 * tern-perf's command line (the part after the EAL arguments and "--").
 * Strict: every number is checked for trailing characters, overflow and
 * range; unknown options and repeated exclusive options are errors. No
 * DPDK dependency, so it can be tested on its own.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/** Most block sizes one run can sweep. */
#define PERF_MAX_BLOCK_SIZES 64
/** Largest block size. */
#define PERF_BLOCK_MAX (1ull << 30)
/** Largest per-client working set. */
#define PERF_WORKING_SET_MAX (64ull << 30)
/** Most client threads. */
#define PERF_CLIENTS_MAX 256
/** Most requests per submit (the engine's TERN_BATCH_MAX). */
#define PERF_BATCH_MAX 1024
/** Most submits outstanding per client. */
#define PERF_INFLIGHT_MAX 4096
/** Longest duration or warm-up. */
#define PERF_SECONDS_MAX 86400ull
/** Most keys of --store. */
#define PERF_STORE_KEYS_MAX (1u << 20)
/** Longest transport or target name, including the NUL. */
#define PERF_NAME_MAX 16

/** Direction of the requests. */
enum perf_op {
	PERF_OP_READ = 1,  /**< target segment -> local buffer */
	PERF_OP_WRITE = 2, /**< local buffer -> target segment */
};

/** Where the target segment lives. */
enum perf_target {
	PERF_TARGET_LOOPBACK = 0,  /**< in this process */
	PERF_TARGET_PEER = 1,	   /**< another engine (not in this build) */
	PERF_TARGET_DATAPLANE = 2, /**< a running tern-dataplane (not in this build) */
};

/** How a client learns that its futures resolved. */
enum perf_completion {
	PERF_COMPLETION_REAP = 0, /**< poll the client's completion queue */
	PERF_COMPLETION_WAIT = 1, /**< tern_future_wait() on the oldest future */
};

/** --notify: what the WRITEs carry (doc/notify.md). */
enum perf_notify {
	PERF_NOTIFY_NONE = 0,	/**< plain batches */
	PERF_NOTIFY_BATCH = 1,	/**< every batch carries a notification (tag: submit TSC) */
	PERF_NOTIFY_EMPTY = 2,	/**< tern_notify_send() alone, no data, empty message */
	PERF_NOTIFY_LISTEN = 3, /**< only receive: latency from the tag, notifications/s */
};

/** Parsed arguments; perf_args_parse() fills every field. */
struct perf_args {
	enum perf_op op;
	uint64_t block_sizes[PERF_MAX_BLOCK_SIZES]; /**< bytes, in the order given */
	unsigned int nb_block_sizes;
	uint32_t batch;	      /**< requests per submit */
	uint32_t inflight;    /**< submits outstanding per client */
	uint32_t clients;     /**< client threads */
	uint32_t workers;     /**< worker lcores the engine uses; 0 = every EAL worker */
	uint64_t duration_ns; /**< measured time per block size; 0 with iterations */
	uint64_t iterations;  /**< submits per client per block size; 0 with duration */
	uint64_t warmup_ns;   /**< unmeasured time before each measurement */
	char transport[PERF_NAME_MAX];
	enum perf_target target;
	char engine[16];  /**< --target dataplane: the engine to attach to */
	char segment[96]; /**< --target dataplane: NAME (its own) or NODE/NAME (a peer's) */
	enum perf_completion completion;
	enum perf_notify notify;  /**< --notify */
	uint64_t working_set;	  /**< bytes of buffer per client; 0 = one block (reused) */
	uint64_t slice_bytes;	  /**< engine slice size; 0 = the engine's default */
	uint64_t stream_bytes;	  /**< engine streaming-copy threshold; 0 = default */
	uint64_t share_bytes;	  /**< engine sharing threshold; 0 = default */
	bool verify;		  /**< check every byte in an untimed pass */
	bool json;		  /**< one JSON document on stdout */
	bool quiet;		  /**< no progress line */
	bool baseline;		  /**< measure the memcpy and streaming-copy baselines */
	bool help;		  /**< --help was given: print usage, exit 0 */
	char store_metadata[256]; /**< --store-metadata: a URI, or empty for embedded */
	uint32_t store_keys;	  /**< --store N: keys of the store mode; 0 = not the store mode */
};

/**
 * Parse a list of block sizes: comma-separated sizes or ranges LO-HI
 * (LO, 2 LO, 4 LO ... up to HI, HI included), each in 1..PERF_BLOCK_MAX.
 *
 * @return 0, or -EINVAL (malformed, empty item, LO > HI, out of range),
 *         -ERANGE (overflow), -E2BIG (more than @p max sizes).
 */
int perf_parse_size_list(const char *s, uint64_t *sizes, unsigned int max, unsigned int *nb);

/**
 * Parse a decimal integer in [min, max]: digits only.
 *
 * @return 0, or -EINVAL (malformed), -ERANGE (outside [min, max] or overflow).
 */
int perf_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/**
 * Parse a duration: decimal seconds with an optional fraction (up to 9
 * digits) and an optional unit "s", "ms" or "us"; at most PERF_SECONDS_MAX s.
 *
 * @return 0, or -EINVAL (malformed), -ERANGE (too long).
 */
int perf_parse_duration(const char *s, uint64_t *ns);

/**
 * Parse tern-perf's arguments. @p argv[0] is the program name; options are
 * "--name value" or "--name=value".
 *
 * @param err buffer for a one-line message on failure
 * @return 0, or a negative errno with @p err filled in.
 */
int perf_args_parse(int argc, char *const argv[], struct perf_args *args, char *err,
		    size_t err_len);

/** Print the usage text to @p f. */
void perf_args_usage(FILE *f, const char *prog);

/** @return "read" or "write". */
const char *perf_op_name(enum perf_op op);

/** @return "loopback", "peer" or "dataplane". */
const char *perf_target_name(enum perf_target target);

#endif /* TERN_PERF_ARGS_H */
