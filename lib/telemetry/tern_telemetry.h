/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef TERN_TELEMETRY_H
#define TERN_TELEMETRY_H

/**
 * @file
 * tern's commands on DPDK's telemetry socket (`/tern/...`).
 *
 * The commands are answered on DPDK's telemetry threads (one per connected
 * client) through the engine's thread-safe observation API only; they never
 * touch lcore-private state. See doc/telemetry.md for the commands and the
 * shape of their replies.
 *
 * Threading: tern_telemetry_register() and tern_telemetry_unregister() come
 * from the application's control thread.
 */

#include <tern_engine.h>
#include <tern_segment.h>

#ifdef __cplusplus
extern "C" {
#endif

struct tern_peers;

/** What the telemetry commands describe. */
struct tern_telemetry_conf {
	struct tern_engine *engine;	     /**< required */
	struct tern_segment_table *segments; /**< NULL: /tern/segments answers an error */
	struct tern_peers *peers; /**< lib/peer's set; NULL: /tern/peers answers an error */
	const char *node;	  /**< node name shown by /tern/info; NULL = "" */
	const char *version;	  /**< version shown by /tern/info; NULL = tern's */
};

/**
 * Answer the `/tern/` telemetry commands about @p conf's engine.
 *
 * The commands are registered with DPDK on the first call (DPDK cannot
 * unregister them); a later call after tern_telemetry_unregister() points
 * them at a new engine. Works whether or not the EAL runs the telemetry
 * socket (--no-telemetry): the commands then simply have no client.
 *
 * @return 0; -EINVAL (NULL conf or engine, node or version of 64 characters
 *         or more); -EEXIST (already registered and not unregistered);
 *         or rte_telemetry_register_cmd()'s error (-ENOMEM).
 */
int tern_telemetry_register(const struct tern_telemetry_conf *conf);

/**
 * Detach the commands from the engine: once this returns no command is
 * using the engine or the segment table any more, and every `/tern/`
 * command answers an error until the next tern_telemetry_register(). Call it
 * before tern_engine_destroy(). Harmless when not registered.
 */
void tern_telemetry_unregister(void);

#ifdef __cplusplus
}
#endif

#endif /* TERN_TELEMETRY_H */
