/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef TERN_PERF_H
#define TERN_PERF_H

/*
 * tern-perf's measurements, shared between the runner (main.c) and the
 * reports (perf_report.c). Private to the app.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <tern_histogram.h>

#include "perf_args.h"

struct tern_engine;
struct tern_segment_table;

/** Most worker lcores reported. */
#define PERF_MAX_WORKERS 64

/** One baseline copy loop (glibc memcpy or streaming stores). */
struct perf_baseline {
	bool measured;
	double gbps;	     /**< bytes copied per second by all lcores, / 1e9 */
	double copies_per_s; /**< copies of one unit per second */
	uint64_t unit_bytes; /**< bytes per copy call */
	uint64_t span_bytes; /**< bytes of source the loop cycles over (per lcore) */
	unsigned int nb_lcores;
};

/** The result of one block size. */
struct perf_result {
	uint64_t block_size;
	uint64_t blocks_per_client;	    /**< distinct blocks each client cycles over */
	double seconds;			    /**< measured wall time */
	uint64_t requests;		    /**< requests completed in the window */
	uint64_t batches;		    /**< futures completed in the window */
	uint64_t bytes;			    /**< bytes of completed requests */
	uint64_t slices;		    /**< slices posted by the lcores in the window */
	uint64_t errors;		    /**< futures that failed */
	int first_error;		    /**< status of the first failed future */
	struct tern_histogram *latency;	    /**< submit -> complete, TSC ticks, all clients */
	struct tern_histogram *submit_call; /**< time spent inside tern_submit(), TSC ticks */
	double process_cpu_s;		    /**< user + system CPU of the process in the window */
	double client_cpu_s;		    /**< CPU time of the client threads in the window */
	double worker_busy;		    /**< share of worker loop iterations that did work */
	uint64_t preemptions;		    /**< involuntary context switches of the process */
	uint64_t client_cpu_mask;	    /**< CPUs the client threads were seen on */
	struct perf_baseline memcpy_base;
	struct perf_baseline stream_base;
	int verified; /**< -1 not checked, 0 mismatch, 1 every byte checked */
};

/** Where things ran, and what the run was. */
struct perf_report {
	const struct perf_args *args;
	const char *prog;
	uint64_t tsc_hz;
	unsigned int cpus_online;
	unsigned int main_lcore;
	uint64_t main_cpu_mask;
	unsigned int nb_workers;
	unsigned int worker_lcores[PERF_MAX_WORKERS];
	uint64_t worker_cpu_mask[PERF_MAX_WORKERS];
	uint64_t slice_bytes; /**< the engine's, defaults filled in */
	uint64_t stream_bytes;
	uint64_t share_bytes;
	const char *copy_isa;
	struct perf_result *results;
	unsigned int nb_results;
};

/** Print the human-readable table to stdout. */
void perf_report_table(const struct perf_report *r);

/** Print one JSON document to stdout. */
void perf_report_json(const struct perf_report *r);

/** Format a CPU mask as "0,2-3" into @p buf. @return buf. */
char *perf_cpu_list(uint64_t mask, char *buf, size_t len);

/** What tern-perf --store runs on (perf_store.c). */
struct perf_store_env {
	struct tern_engine *engine;
	struct tern_segment_table *tbl;
	uint32_t target_handle; /**< the store's capacity, from offset 0 */
	uint64_t target_bytes;
	uint8_t *local_base;	 /**< keys x block bytes: the objects' buffers */
	uint64_t worker_mask;	 /**< CPUs of the worker lcores */
	const char *engine_name; /**< --target dataplane (engine NULL): attach to it; the
				  *   dataplane owns the target (--store-capacity) */
};

/** tern-perf --store: print the table. @return 0 or a negative errno. */
int perf_store_run(const struct perf_args *a, const struct perf_store_env *env);

#endif /* TERN_PERF_H */
