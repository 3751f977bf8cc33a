/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef TERN_MLX5_VERBS_H
#define TERN_MLX5_VERBS_H

/**
 * @file
 * Connection seam of the verbs provider (driver-internal).
 */

#include <infiniband/verbs.h>

#include "tern_mlx5_internal.h"

/**
 * Bring an RC QP from any state through RESET, INIT (remote READ and WRITE
 * allowed), RTR (towards @p remote) and RTS. This is what the directory's
 * handshake calls once both sides have exchanged their parameters.
 *
 * @param port      the local port number
 * @param gid_index the local RoCE v2 GID index (ignored on IB, remote->lid != 0)
 * @return 0, or a negative errno from ibv_modify_qp().
 */
int tern_mlx5_qp_connect(struct ibv_qp *qp, uint8_t port, int gid_index,
			 const struct tern_mlx5_conn_params *local,
			 const struct tern_mlx5_conn_params *remote);

#endif /* TERN_MLX5_VERBS_H */
