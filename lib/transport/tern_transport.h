/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef TERN_TRANSPORT_H
#define TERN_TRANSPORT_H

/**
 * @file
 * Transports as an application sees them: ids and names, and the two
 * operations. The engine picks a transport per target segment (the cheapest
 * that reaches it); an application names one only to pin a peer to it or to
 * report what was used. Writing a transport is the driver SDK's business:
 * tern_transport_driver.h.
 */

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Largest number of transports one process can register. */
#define TERN_TRANSPORT_MAX 8
/** Longest transport name, including the NUL. */
#define TERN_TRANSPORT_NAME_MAX 16

/** Operation of a request or slice. */
enum tern_op {
	TERN_OP_READ = 1,  /**< copy target segment -> local memory */
	TERN_OP_WRITE = 2, /**< copy local memory -> target segment */
};

/** @return the id of the transport named @p name, or -ENOENT / -EINVAL. */
int tern_transport_id(const char *name);

/** @return how many transports are registered (ids are 0..count-1). */
int tern_transport_count(void);

/**
 * @return the name of transport @p id ("memcpy", "shm", "tcp", "mlx5"...), or
 *         NULL if there is none.
 */
const char *tern_transport_name(int id);

#ifdef __cplusplus
}
#endif

#endif /* TERN_TRANSPORT_H */
