/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tern-perf's output: a table for people, one JSON document for programs.
 * Latencies are recorded in TSC ticks and converted here.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <rte_common.h>

#include <tern_histogram.h>

#include "perf.h"

#include <tern_build_config.h>

static const double pct[] = { 50.0, 90.0, 99.0, 99.9 };
static const char *const pct_key[] = { "p50", "p90", "p99", "p99_9" };

char *
perf_cpu_list(uint64_t mask, char *buf, size_t len)
{
	unsigned int cpu, end;
	size_t used = 0;

	buf[0] = '\0';
	for (cpu = 0; cpu < 64 && used < len; cpu++) {
		if (!(mask & (1ull << cpu)))
			continue;
		for (end = cpu; end + 1 < 64 && (mask & (1ull << (end + 1))); end++)
			;
		if (end == cpu)
			used += (size_t)snprintf(buf + used, len - used, "%s%u", used ? "," : "",
						 cpu);
		else
			used += (size_t)snprintf(buf + used, len - used, "%s%u-%u", used ? "," : "",
						 cpu, end);
		cpu = end;
	}
	return buf;
}

static char *
size_str(uint64_t v, char *buf, size_t len)
{
	if (v >= (1ull << 30) && v % (1ull << 30) == 0)
		snprintf(buf, len, "%" PRIu64 "G", v >> 30);
	else if (v >= (1ull << 20) && v % (1ull << 20) == 0)
		snprintf(buf, len, "%" PRIu64 "M", v >> 20);
	else if (v >= (1ull << 10) && v % (1ull << 10) == 0)
		snprintf(buf, len, "%" PRIu64 "K", v >> 10);
	else
		snprintf(buf, len, "%" PRIu64, v);
	return buf;
}

static double
ticks_us(const struct perf_report *r, uint64_t ticks)
{
	return (double)ticks * 1e6 / (double)r->tsc_hz;
}

static double
ticks_ns(const struct perf_report *r, uint64_t ticks)
{
	return (double)ticks * 1e9 / (double)r->tsc_hz;
}

static double
result_gbps(const struct perf_result *res)
{
	return res->seconds > 0 ? (double)res->bytes / res->seconds / 1e9 : 0.0;
}

static double
per_s(const struct perf_result *res, uint64_t n)
{
	return res->seconds > 0 ? (double)n / res->seconds : 0.0;
}

static void
print_cores(const struct perf_report *r, FILE *f)
{
	char buf[64];
	unsigned int i;

	fprintf(f, "cores: main lcore %u on cpu %s; worker lcores:", r->main_lcore,
		perf_cpu_list(r->main_cpu_mask, buf, sizeof(buf)));
	for (i = 0; i < r->nb_workers; i++)
		fprintf(f, " %u on cpu %s", r->worker_lcores[i],
			perf_cpu_list(r->worker_cpu_mask[i], buf, sizeof(buf)));
	fprintf(f, "; %u CPUs online\n", r->cpus_online);
}

void
perf_report_table(const struct perf_report *r)
{
	const struct perf_args *a = r->args;
	char b1[32], b2[32], b3[32], b4[32];
	unsigned int i, k;

	printf("tern-perf %s: %s, batch %u, inflight %u, %u client thread(s), %u worker lcore(s), "
	       "transport %s, target %s, completion %s\n",
	       TERN_VERSION, perf_op_name(a->op), a->batch, a->inflight, a->clients, r->nb_workers,
	       a->target == PERF_TARGET_DATAPLANE ? "chosen by the dataplane (/tern/peers)"
						  : a->transport,
	       perf_target_name(a->target),
	       a->completion == PERF_COMPLETION_WAIT ? "wait" : "reap");
	if (a->target == PERF_TARGET_DATAPLANE)
		printf("working set per client: %s; engine: the dataplane's (%s, segment %s): its "
		       "settings, lcores and slice counters are in its telemetry (/tern/config, "
		       "/tern/stats)\n",
		       a->working_set ? size_str(a->working_set, b1, sizeof(b1))
				      : "one block (reused)",
		       a->engine, a->segment);
	else
		printf("working set per client: %s; engine slice %s, streaming stores from %s, "
		       "shared from %s; streaming copy: %s\n",
		       a->working_set ? size_str(a->working_set, b1, sizeof(b1))
				      : "one block (reused)",
		       size_str(r->slice_bytes, b2, sizeof(b2)),
		       size_str(r->stream_bytes, b3, sizeof(b3)),
		       size_str(r->share_bytes, b4, sizeof(b4)), r->copy_isa);
	print_cores(r, stdout);
	printf("latency: submit -> completion seen by the client, per batch, microseconds\n");
	printf("baselines: every worker lcore copies its stripe of the same working set in a loop "
	       "(same cores, same bytes); x = tern / baseline\n\n");
	printf("%6s %8s %9s %9s %8s %8s %8s %8s %8s | %8s %6s | %8s %6s | %5s %5s %s\n", "block",
	       "GB/s", "Mreq/s", "Mslice/s", "p50", "p90", "p99", "p99.9", "max", "memcpy", "x",
	       "stream", "x", "cpu", "busy", "clients@cpu");
	for (i = 0; i < r->nb_results; i++) {
		const struct perf_result *res = &r->results[i];
		double g = result_gbps(res);

		printf("%6s %8.2f %9.3f", size_str(res->block_size, b1, sizeof(b1)), g,
		       per_s(res, res->requests) / 1e6);
		if (a->target == PERF_TARGET_DATAPLANE)
			printf(" %9s", "-"); /* the dataplane's lcores count slices */
		else
			printf(" %9.3f", per_s(res, res->slices) / 1e6);
		for (k = 0; k < RTE_DIM(pct); k++)
			printf(" %8.2f",
			       ticks_us(r, tern_histogram_percentile(res->latency, pct[k])));
		printf(" %8.2f |", ticks_us(r, res->latency->count ? res->latency->max : 0));
		if (res->memcpy_base.measured)
			printf(" %8.2f %5.0f%% |", res->memcpy_base.gbps,
			       100.0 * g / res->memcpy_base.gbps);
		else
			printf(" %8s %6s |", "-", "-");
		if (res->stream_base.measured)
			printf(" %8.2f %5.0f%% |", res->stream_base.gbps,
			       100.0 * g / res->stream_base.gbps);
		else
			printf(" %8s %6s |", "-", "-");
		printf(" %5.2f %4.0f%% %s%s\n",
		       res->seconds > 0 ? res->process_cpu_s / res->seconds : 0.0,
		       100.0 * res->worker_busy,
		       perf_cpu_list(res->client_cpu_mask, b2, sizeof(b2)),
		       res->verified == 1   ? "  verified"
		       : res->verified == 0 ? "  VERIFY FAILED"
					    : "");
	}
	printf("\ncpu = process CPU time / wall time (cores busy, worker lcores poll all the "
	       "time); "
	       "busy = share of worker loop iterations that found work\n");
}

static void
json_cpus(const char *key, uint64_t mask, const char *sep)
{
	unsigned int cpu;
	bool first = true;

	printf("\"%s\": [", key);
	for (cpu = 0; cpu < 64; cpu++) {
		if (mask & (1ull << cpu)) {
			printf("%s%u", first ? "" : ", ", cpu);
			first = false;
		}
	}
	printf("]%s", sep);
}

static void
json_baseline(const char *key, const struct perf_baseline *b, double gbps, const char *sep)
{
	if (!b->measured) {
		printf("\"%s\": null%s", key, sep);
		return;
	}
	printf("\"%s\": {\"gbps\": %.4f, \"copies_per_s\": %.1f, \"unit_bytes\": %" PRIu64
	       ", \"span_bytes_per_lcore\": %" PRIu64 ", \"lcores\": %u, \"ratio\": %.4f}%s",
	       key, b->gbps, b->copies_per_s, b->unit_bytes, b->span_bytes, b->nb_lcores,
	       b->gbps > 0 ? gbps / b->gbps : 0.0, sep);
}

void
perf_report_json(const struct perf_report *r)
{
	const struct perf_args *a = r->args;
	unsigned int i, k;

	printf("{\n  \"tool\": \"tern-perf\", \"version\": \"%s\",\n", TERN_VERSION);
	printf("  \"config\": {\"op\": \"%s\", \"batch\": %u, \"inflight\": %u, \"clients\": %u, "
	       "\"workers\": %u, \"duration_s\": %.3f, \"iterations\": %" PRIu64
	       ", \"warmup_s\": %.3f, \"transport\": \"%s\", \"target\": \"%s\", "
	       "\"completion\": \"%s\", \"working_set_bytes\": %" PRIu64
	       ", \"slice_bytes\": %" PRIu64 ", \"stream_bytes\": %" PRIu64
	       ", \"share_bytes\": %" PRIu64 ", \"verify\": %s},\n",
	       perf_op_name(a->op), a->batch, a->inflight, a->clients, r->nb_workers,
	       (double)a->duration_ns * 1e-9, a->iterations, (double)a->warmup_ns * 1e-9,
	       a->transport, perf_target_name(a->target),
	       a->completion == PERF_COMPLETION_WAIT ? "wait" : "reap", a->working_set,
	       r->slice_bytes, r->stream_bytes, r->share_bytes, a->verify ? "true" : "false");
	printf("  \"machine\": {\"cpus_online\": %u, \"tsc_hz\": %" PRIu64
	       ", \"stream_copy_isa\": \"%s\"},\n",
	       r->cpus_online, r->tsc_hz, r->copy_isa);
	printf("  \"cores\": {\"main_lcore\": %u, ", r->main_lcore);
	json_cpus("main_cpus", r->main_cpu_mask, ", ");
	printf("\"workers\": [");
	for (i = 0; i < r->nb_workers; i++) {
		printf("%s{\"lcore\": %u, ", i ? ", " : "", r->worker_lcores[i]);
		json_cpus("cpus", r->worker_cpu_mask[i], "}");
	}
	printf("]},\n  \"latency_unit\": \"ns\", \"latency_of\": \"submit to completion seen by "
	       "the client, per batch\",\n");
	printf("  \"results\": [");
	for (i = 0; i < r->nb_results; i++) {
		const struct perf_result *res = &r->results[i];
		double g = result_gbps(res);

		printf("%s\n    {\"block_size\": %" PRIu64 ", \"blocks_per_client\": %" PRIu64
		       ", \"seconds\": %.6f, \"requests\": %" PRIu64 ", \"batches\": %" PRIu64
		       ", \"bytes\": %" PRIu64 ", \"slices\": %" PRIu64 ", \"errors\": %" PRIu64
		       ",\n     \"gbps\": %.4f, \"requests_per_s\": %.1f, \"batches_per_s\": %.1f, "
		       "\"slices_per_s\": %.1f,\n     \"latency_ns\": {",
		       i ? "," : "", res->block_size, res->blocks_per_client, res->seconds,
		       res->requests, res->batches, res->bytes, res->slices, res->errors, g,
		       per_s(res, res->requests), per_s(res, res->batches),
		       per_s(res, res->slices));
		for (k = 0; k < RTE_DIM(pct); k++)
			printf("\"%s\": %.1f, ", pct_key[k],
			       ticks_ns(r, tern_histogram_percentile(res->latency, pct[k])));
		printf("\"min\": %.1f, \"max\": %.1f, \"mean\": %.1f, \"count\": %" PRIu64 "},\n",
		       ticks_ns(r, res->latency->count ? res->latency->min : 0),
		       ticks_ns(r, res->latency->max),
		       tern_histogram_mean(res->latency) * 1e9 / (double)r->tsc_hz,
		       res->latency->count);
		printf("     \"submit_call_ns\": {\"p50\": %.1f, \"p99\": %.1f, \"mean\": %.1f},\n",
		       ticks_ns(r, tern_histogram_percentile(res->submit_call, 50.0)),
		       ticks_ns(r, tern_histogram_percentile(res->submit_call, 99.0)),
		       tern_histogram_mean(res->submit_call) * 1e9 / (double)r->tsc_hz);
		printf("     \"cpu\": {\"process_cpu_s\": %.4f, \"process_cores\": %.3f, "
		       "\"client_cpu_s\": %.4f, \"worker_busy\": %.4f, \"preemptions\": %" PRIu64
		       ", ",
		       res->process_cpu_s,
		       res->seconds > 0 ? res->process_cpu_s / res->seconds : 0.0,
		       res->client_cpu_s, res->worker_busy, res->preemptions);
		json_cpus("client_cpus", res->client_cpu_mask, "},\n");
		printf("     \"baseline\": {");
		json_baseline("memcpy", &res->memcpy_base, g, ", ");
		json_baseline("stream", &res->stream_base, g, "},\n");
		printf("     \"verified\": %s}", res->verified < 0 ? "null"
						 : res->verified   ? "true"
								   : "false");
	}
	printf("\n  ]\n}\n");
}
