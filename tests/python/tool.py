# SPDX-License-Identifier: BSD-3-Clause
"""A second Python process for the tests, attached to a dataplane:
    tool.py PREFIX sha TARGET OFFSET LENGTH        print sha256 of the range
    tool.py PREFIX fill TARGET OFFSET LENGTH SEED  write pattern(SEED) there
    tool.py PREFIX forever TARGET                  write 4 MiB batches until killed
    tool.py PREFIX hold TARGET OFFSET LENGTH SEED
        allocate a LENGTH buffer, print "held", wait for a line on stdin, then
        read TARGET at OFFSET into that buffer and print "ok" if it holds
        pattern(SEED), else "stale"
    tool.py PREFIX notified TARGET OFFSET LENGTH COUNT
        wait for COUNT notifications; for each, the moment it is seen, check
        that TARGET at OFFSET + tag * LENGTH holds pattern(tag) (tag 0: no
        check); print "sender tag message ok|stale" per notification
"""
import hashlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np  # noqa: E402

import tern  # noqa: E402
from conftest import pattern  # noqa: E402


def main():
    prefix, cmd, target = sys.argv[1:4]
    c = tern.attach(file_prefix=prefix)
    if cmd == "sha":
        off, n = int(sys.argv[4]), int(sys.argv[5])
        buf = c.alloc(n)
        c.read(target, off, buf).result(timeout=30)
        print(hashlib.sha256(buf).hexdigest())
    elif cmd == "fill":
        off, n, seed = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
        buf = c.alloc(n)
        np.frombuffer(buf, dtype=np.uint8)[:] = pattern(seed, n)
        c.write(target, off, buf).result(timeout=30)
        print("filled")
    elif cmd == "forever":
        buf = c.alloc(4 << 20)
        batch = c.prepare([(tern.WRITE, target, i << 20, memoryview(buf)[i << 20:(i + 1) << 20])
                           for i in range(4)])
        futs = [batch.submit() for _ in range(8)]
        print("transferring", flush=True)
        while True:
            f = futs.pop(0)
            f.result(timeout=30)
            futs.append(batch.submit())
    elif cmd == "hold":
        off, n, seed = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
        buf = c.alloc(n)
        print("held", flush=True)
        sys.stdin.readline()
        c.read(target, off, buf).result(timeout=30)
        same = np.array_equal(np.frombuffer(buf, dtype=np.uint8), pattern(seed, n))
        print("ok" if same else "stale", flush=True)
    elif cmd == "notified":
        off, n, count = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
        buf = c.alloc(n)
        got = 0
        while got < count:
            ntfs = c.notify_wait(20)
            if not ntfs:
                sys.exit("no notification within 20 s")
            for sender, tag, msg in ntfs:
                state = "ok"
                if tag != 0:
                    c.read(target, off + tag * n, buf).result(timeout=30)
                    if not np.array_equal(np.frombuffer(buf, dtype=np.uint8), pattern(tag, n)):
                        state = "stale"
                print(sender, tag, msg.decode(), state, flush=True)
                got += 1
    else:
        sys.exit("unknown command " + cmd)
    c.close()


if __name__ == "__main__":
    main()
