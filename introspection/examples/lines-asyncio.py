#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A live process from asyncio, with the spawn_async package: follow a
program's output line by line while it runs (async for), then wait for
its end."""

import asyncio

import spawn_async
from gi.repository import Sa


async def main():
    async with spawn_async.Worker() as worker:
        # stderr in the same stream, in order.
        options = Sa.SpawnOptions(stderr_mode=Sa.Stdio.MERGE)
        process = await worker.spawn(
            ['sh', '-c', 'for i in 1 2 3; do echo "step $i of 3"; sleep 0.1; done; echo done >&2'],
            options)
        async for line in process.stdout_lines():
            print(f'> {line}')
        await process.wait_check()
        print(f'exited with status {process.sa_process.get_exit_status()}')


if __name__ == '__main__':
    asyncio.run(main())
