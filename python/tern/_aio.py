# SPDX-License-Identifier: BSD-3-Clause
"""``await future``: the client's reaper thread resolves an asyncio future in
the awaiting loop (loop.call_soon_threadsafe) when the tern future resolves.
One reaper per client, started by its first await; no thread per future."""
import asyncio

from . import _tern


def _deliver(af, fut):
    del fut  # kept alive until here: the loop thread drops it
    if not af.done():
        af.set_result(None)


async def _await(fut):
    if not fut.done():
        loop = asyncio.get_running_loop()
        af = loop.create_future()
        if fut._watch(loop, af):
            try:
                await af
            except asyncio.CancelledError:
                fut.cancel()
                raise
    return fut.result()


def _await_future(fut):
    return _await(fut).__await__()


_tern._set_hooks(_await_future, _deliver)
