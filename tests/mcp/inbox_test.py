"""The official Python MCP SDK hears of a customer's message without polling.

Starts `host-harness serve --http 127.0.0.1:0 --sandbox` with the inbox on,
then, as a 2025-11-25 client (`resources/subscribe`) and as a 2026-07-28
client (`subscriptions/listen`), subscribes to a customer's conversation, has
the customer write through the sandbox's control API (a signed webhook to the
server), waits for `notifications/resources/updated`, and reads the resource.

Usage: python inbox_test.py PATH/TO/host-harness
Prints one line per check and closes with "N passed, M failed"; exits 1 on any failure.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.request
import warnings

from mcp import Client

TIMEOUT = 30


class Server:
    """`serve --http 127.0.0.1:0 --sandbox` with the inbox on, in the background."""

    def __init__(self, binary: str):
        env = dict(os.environ, WHATSAPP_INBOX_ENABLED="true")
        self.proc = subprocess.Popen(
            [binary, "serve", "--sandbox", "--http", "127.0.0.1:0"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.url = self.sandbox = None
        deadline = time.monotonic() + 120
        assert self.proc.stderr is not None
        while time.monotonic() < deadline and self.url is None:
            line = self.proc.stderr.readline()
            if not line:
                break
            sys.stderr.write(line)
            if m := re.search(r"sandbox at (http://\S+)", line):
                self.sandbox = m.group(1).rstrip("/")
            if m := re.search(r"MCP server listening on (http://\S+/mcp)", line):
                self.url = m.group(1)
        if self.url is None or self.sandbox is None:
            self.proc.kill()
            raise RuntimeError("the server did not report its addresses")
        threading.Thread(target=lambda: [None for _ in self.proc.stderr], daemon=True).start()

    def customer_writes(self, number: str, text: str) -> None:
        body = json.dumps({"from": number, "text": text}).encode()
        request = urllib.request.Request(
            f"{self.sandbox}/_sandbox/inbound", body, {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:
            assert answer.status == 200

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class Checks:
    def __init__(self) -> None:
        self.passed = self.failed = 0

    def check(self, name: str, ok: bool, detail: str = "") -> None:
        if ok:
            self.passed += 1
            print(f"PASS  {name}")
        else:
            self.failed += 1
            print(f"FAIL  {name}: {detail}")
        sys.stdout.flush()


async def read_text(client: Client, uri: str) -> str:
    result = await client.read_resource(uri)
    return "".join(getattr(c, "text", "") for c in result.contents)


async def legacy(checks: Checks, server: Server) -> None:
    number = "+16505550401"
    uri = f"whatsapp://conversations/{number}"
    updated: asyncio.Queue[str] = asyncio.Queue()

    async def on_message(message) -> None:
        root = getattr(message, "root", message)
        if getattr(root, "method", None) == "notifications/resources/updated":
            await updated.put(str(root.params.uri))

    async with Client(server.url, mode="legacy", read_timeout_seconds=TIMEOUT, message_handler=on_message) as client:
        listed = await client.list_resources()
        checks.check(
            "[legacy] resources/list names the conversations resource",
            any(str(r.uri) == "whatsapp://conversations" for r in listed.resources),
            f"{listed}",
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            await client.subscribe_resource(uri)
        server.customer_writes(number, "Is the shop open on Sunday?")
        try:
            got = await asyncio.wait_for(updated.get(), TIMEOUT)
        except TimeoutError:
            got = None
        checks.check("[legacy] a subscribed client gets notifications/resources/updated", got == uri, f"got {got}")
        text = await read_text(client, uri)
        checks.check("[legacy] reading the resource shows the message", "open on Sunday" in text, text[:300])


async def modern(checks: Checks, server: Server) -> None:
    number = "+16505550402"
    uri = f"whatsapp://conversations/{number}"
    async with Client(server.url, mode="2026-07-28", read_timeout_seconds=TIMEOUT) as client:
        async with client.listen(resource_subscriptions=[uri]) as subscription:
            server.customer_writes(number, "Hello from the listen test")
            try:
                event = await asyncio.wait_for(anext(aiter(subscription)), TIMEOUT)
            except TimeoutError:
                event = None
            checks.check("[2026-07-28] a listen stream carries the update", event is not None, "no event")
        text = await read_text(client, uri)
        checks.check("[2026-07-28] reading the resource shows the message", "Hello from the listen test" in text, text[:300])


async def main(binary: str) -> int:
    checks = Checks()
    server = Server(binary)
    try:
        for run in (legacy, modern):
            try:
                await run(checks, server)
            except Exception as e:  # a failure to connect is a failed check, not a crash
                checks.check(f"[{run.__name__}] runs to the end", False, f"{type(e).__name__}: {e}")
    finally:
        server.stop()
    print(f"python-sdk inbox: {checks.passed} passed, {checks.failed} failed")
    return 0 if checks.failed == 0 else 1


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__)
        sys.exit(2)
    sys.exit(asyncio.run(main(sys.argv[1])))
