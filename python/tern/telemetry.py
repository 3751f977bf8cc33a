# SPDX-License-Identifier: BSD-3-Clause
"""The dataplane's telemetry socket (DPDK's v2 protocol, as dpdk-telemetry.py
speaks it): one SOCK_SEQPACKET connection per call, the server's greeting
(JSON with max_output_len), the command, one JSON reply."""
import errno
import json
import os
import socket

from ._tern import Error


def runtime_dir():
    """Where DPDK puts its runtime files: /var/run as root, else $XDG_RUNTIME_DIR or /tmp."""
    if os.geteuid() == 0:
        base = "/var/run"
    else:
        base = os.environ.get("XDG_RUNTIME_DIR", "/tmp")
    return os.path.join(base, "dpdk")


def telemetry(file_prefix, command="/tern/stats", timeout=5.0):
    """Run one telemetry command (e.g. "/tern/stats", "/tern/peers/set,b=tcp") on the
    process started with ``--file-prefix file_prefix`` and return its parsed JSON value."""
    if not isinstance(file_prefix, str) or not file_prefix or "/" in file_prefix:
        raise ValueError("file_prefix must be a non-empty str without '/', not %r"
                         % (file_prefix,))
    if not isinstance(command, str):
        raise TypeError("command must be a str, not %s" % type(command).__name__)
    if not command.startswith("/") or len(command) > 1024 or any(
            ch.isspace() or not ch.isprintable() for ch in command):
        raise ValueError("command must look like /tern/stats or /tern/lcore,1, not %r"
                         % (command,))
    path = os.path.join(runtime_dir(), file_prefix, "dpdk_telemetry.v2")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        sock.settimeout(timeout)
        try:
            sock.connect(path)
        except OSError as e:
            raise Error(e.errno or errno.ENOENT,
                        "no telemetry socket at %s (is a dataplane running with --file-prefix "
                        "%s?): %s" % (path, file_prefix, e.strerror)) from None
        try:
            greeting = json.loads(sock.recv(1024).decode())
            max_len = int(greeting["max_output_len"])
            sock.send(command.encode())
            raw = sock.recv(max_len)
        except (socket.timeout, OSError) as e:
            raise Error(errno.ETIMEDOUT if isinstance(e, socket.timeout) else e.errno,
                        "telemetry %s on %s: %s" % (command, file_prefix, e)) from None
        except (ValueError, KeyError) as e:
            raise Error(errno.EPROTO, "telemetry greeting of %s is not DPDK's: %s"
                        % (file_prefix, e)) from None
    finally:
        sock.close()
    if not raw:
        raise Error(errno.ECONNRESET, "telemetry %s: the process closed the socket" % command)
    try:
        reply = json.loads(raw.decode())
    except ValueError as e:
        raise Error(errno.EPROTO, "telemetry %s: reply is not JSON: %s" % (command, e)) from None
    key = command.split(",", 1)[0]
    if not isinstance(reply, dict) or reply.get(key) is None:
        raise Error(errno.EINVAL, "telemetry %s: unknown command (reply %r)" % (command, reply))
    value = reply[key]
    if isinstance(value, dict) and set(value) == {"error"}:
        raise Error(errno.EINVAL, "telemetry %s: %s" % (command, value["error"]))
    return value
