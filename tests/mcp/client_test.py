"""The official Python MCP SDK drives the real `host-harness serve --sandbox`.

Over stdio in the `legacy`, `auto` and `2026-07-28` modes, and over streamable
HTTP in the same three modes, each session:
- lists exactly the thirteen tools, in a stable order, with titles, descriptions,
  valid schemas and all four annotations set as the issue specifies;
- calls every tool against the sandbox with realistic arguments and checks
  `structuredContent` against the tool's `outputSchema` (jsonschema) and the
  text block against `structuredContent`;
- checks that a send outside the 24-hour window (131047) is `isError` with the
  hint, and that an unknown tool is a JSON-RPC -32602.

Usage: python client_test.py PATH/TO/host-harness
Prints one line per check and closes with "N passed, M failed"; exits 1 on any failure.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import threading
import time
from typing import Any

import jsonschema
from mcp import Client, MCPError, StdioServerParameters

# A customer who wrote just now (the server opens the window with --inbound-from)
# and one who never wrote (free-form sends to them fail with 131047).
CUSTOMER = "+16505551234"
STRANGER = "+16505550000"

# name -> (readOnly, destructive, idempotent, openWorld), as the issue specifies:
# reads read-only; sends not idempotent; profile update and delete destructive;
# open-world except the status lookup served from local state.
EXPECTED_ANNOTATIONS = {
    "whatsapp_get_message_status": (True, False, True, False),
    "whatsapp_list_templates": (True, False, True, True),
    "whatsapp_get_business_profile": (True, False, True, True),
    "whatsapp_send_message": (False, False, False, True),
    "whatsapp_send_template": (False, False, False, True),
    "whatsapp_send_media": (False, False, False, True),
    "whatsapp_create_template": (False, False, False, True),
    "whatsapp_update_business_profile": (False, True, True, True),
    "whatsapp_delete_template": (False, True, True, True),
    "whatsapp_list_conversations": (True, False, True, False),
    "whatsapp_get_messages": (True, False, True, False),
    "whatsapp_mark_as_read": (False, False, True, True),
    "whatsapp_send_reaction": (False, False, False, True),
}

SERVER_NAME = "whatsapp-connector"


class Checks:
    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0

    def check(self, name: str, ok: bool, detail: str = "") -> bool:
        if ok:
            self.passed += 1
            print(f"PASS  {name}")
        else:
            self.failed += 1
            print(f"FAIL  {name}: {detail}")
        sys.stdout.flush()
        return ok


def server_args(binary: str) -> list[str]:
    del binary
    return ["serve", "--sandbox", "--inbound-from", CUSTOMER]


class Session:
    """One client session's checks, labelled by transport and mode."""

    def __init__(self, checks: Checks, label: str, tag: str, tool_order: list[list[str]]):
        self.c = checks
        self.label = label
        self.tag = tag  # makes template names unique per session on a shared server
        self.tool_order = tool_order
        self.schemas: dict[str, dict[str, Any]] = {}

    def check(self, name: str, ok: bool, detail: str = "") -> bool:
        return self.c.check(f"[{self.label}] {name}", ok, detail)

    async def run(self, client: Client, expected_version: str) -> None:
        self.check(
            f"negotiates protocol {expected_version}",
            client.protocol_version == expected_version,
            f"got {client.protocol_version}",
        )
        self.modern = expected_version == "2026-07-28"
        info = client.server_info
        if info is not None or not self.modern:
            # From initialize or server/discover; a pinned modern client probes neither.
            self.check(
                "identifies as the WhatsApp connector",
                info is not None and info.name == SERVER_NAME,
                f"server_info={info}",
            )
        await self.lists_every_tool(client)
        await self.calls_every_tool(client)
        await self.reports_tool_failures_as_is_error(client)
        await self.rejects_an_unknown_tool_with_invalid_params(client)

    def check_server_info_meta(self, what: str, meta: dict[str, Any] | None) -> None:
        info = (meta or {}).get("io.modelcontextprotocol/serverInfo") or {}
        self.check(f"{what} names the server in _meta", info.get("name") == SERVER_NAME, f"_meta={meta}")

    async def lists_every_tool(self, client: Client) -> None:
        listed = await client.list_tools()
        tools = listed.tools
        names = [t.name for t in tools]
        self.check(
            "lists exactly the thirteen tools",
            sorted(names) == sorted(EXPECTED_ANNOTATIONS),
            f"got {names}",
        )
        self.check("lists every tool in one page", listed.next_cursor is None, f"next_cursor={listed.next_cursor}")
        if self.modern:
            self.check(
                "marks the list cacheable by anyone for 5 minutes",
                listed.ttl_ms == 300000 and listed.cache_scope == "public",
                f"ttlMs={listed.ttl_ms} cacheScope={listed.cache_scope}",
            )
            self.check_server_info_meta("the tool list", listed.meta)
        self.tool_order.append(names)
        self.check(
            "lists the tools in the same order as every other session",
            all(order == names for order in self.tool_order),
            f"orders seen: {self.tool_order}",
        )
        for tool in tools:
            problems = []
            if not tool.title:
                problems.append("no title")
            if not tool.description or len(tool.description) < 40:
                problems.append("no useful description")
            for what, schema in (("inputSchema", tool.input_schema), ("outputSchema", tool.output_schema)):
                if not isinstance(schema, dict) or schema.get("type") != "object":
                    problems.append(f"{what} is not an object schema")
                    continue
                try:
                    jsonschema.validators.validator_for(schema).check_schema(schema)
                except jsonschema.SchemaError as e:
                    problems.append(f"{what} is not a valid JSON Schema: {e.message}")
            a = tool.annotations
            if a is None:
                problems.append("no annotations")
            else:
                got = (a.read_only_hint, a.destructive_hint, a.idempotent_hint, a.open_world_hint)
                if any(h is None for h in got):
                    problems.append(f"hints not all explicit: {got}")
                elif tool.name in EXPECTED_ANNOTATIONS and got != EXPECTED_ANNOTATIONS[tool.name]:
                    problems.append(f"hints {got}, expected {EXPECTED_ANNOTATIONS[tool.name]}")
                if not a.title:
                    problems.append("annotations carry no title")
            self.check(f"describes {tool.name} fully", not problems, "; ".join(problems))
            if isinstance(tool.output_schema, dict):
                self.schemas[tool.name] = tool.output_schema

    async def call_ok(self, client: Client, tool: str, args: dict[str, Any], what: str) -> dict[str, Any] | None:
        try:
            result = await client.call_tool(tool, args)
        except Exception as e:  # the SDK raises on protocol errors and invalid structured content
            self.check(f"{tool} {what}", False, f"raised {type(e).__name__}: {e}")
            return None
        text = result.content[0].text if result.content and getattr(result.content[0], "type", "") == "text" else ""
        if result.is_error:
            self.check(f"{tool} {what}", False, f"isError: {text}")
            return None
        if self.modern:
            self.check_server_info_meta(f"the {tool} result", result.meta)
        structured = result.structured_content
        problems = []
        if not isinstance(structured, dict):
            problems.append(f"structuredContent is {type(structured).__name__}")
        else:
            try:
                jsonschema.validate(structured, self.schemas[tool], cls=jsonschema.validators.validator_for(self.schemas[tool]))
            except jsonschema.ValidationError as e:
                problems.append(f"structuredContent does not match outputSchema: {e.message}")
            try:
                if json.loads(text) != structured:
                    problems.append("text block differs from structuredContent")
            except ValueError:
                problems.append(f"text block is not the JSON of structuredContent: {text[:80]}")
        self.check(f"{tool} {what}", not problems, "; ".join(problems))
        return structured if not problems else None

    async def calls_every_tool(self, client: Client) -> None:
        template = f"order_ready_{self.tag}"
        profile = await self.call_ok(client, "whatsapp_get_business_profile", {}, "returns the profile")
        if profile is not None:
            self.check("the profile has an about text", bool(profile.get("profile", {}).get("about")), str(profile))
        await self.call_ok(
            client,
            "whatsapp_update_business_profile",
            {"about": "Fresh succulents, delivered.", "websites": ["https://shop.example.com"], "vertical": "RETAIL"},
            "updates the profile",
        )
        created = await self.call_ok(
            client,
            "whatsapp_create_template",
            {
                "name": template,
                "language": "en_US",
                "category": "UTILITY",
                "components": [
                    {
                        "type": "BODY",
                        "text": "Hi {{1}}, your order {{2}} is ready for pickup.",
                        "example": {"body_text": [["Sam", "#1042"]]},
                    },
                    {"type": "FOOTER", "text": "Reply STOP to opt out"},
                ],
            },
            "creates a template",
        )
        if created is not None:
            self.check("the new template is named as asked", created.get("name") == template, str(created))
        listed = await self.call_ok(client, "whatsapp_list_templates", {"name": template}, "lists the new template")
        if listed is not None:
            names = [t.get("name") for t in listed.get("templates", [])]
            self.check("the template list contains the new template", template in names, f"names={names}")
        sent = await self.call_ok(
            client,
            "whatsapp_send_template",
            {"to": CUSTOMER, "name": "hello_world", "language": "en_US"},
            "sends an approved template",
        )
        await self.call_ok(
            client,
            "whatsapp_send_message",
            {"to": CUSTOMER, "text": "Here is your receipt, Sam. See you soon!"},
            "sends text inside the 24-hour window",
        )
        await self.call_ok(
            client,
            "whatsapp_send_media",
            {
                "to": CUSTOMER,
                "media_type": "document",
                "link": "https://shop.example.com/receipts/1042.pdf",
                "filename": "receipt-1042.pdf",
                "caption": "Receipt #1042",
            },
            "sends a document",
        )
        if sent is not None:
            status = await self.call_ok(
                client, "whatsapp_get_message_status", {"message_id": sent["message_id"]}, "looks up a sent message"
            )
            if status is not None:
                self.check(
                    "the status lookup knows the message it was given",
                    status.get("message_id") == sent["message_id"],
                    str(status),
                )
        else:
            self.check("whatsapp_get_message_status looks up a sent message", False, "no message id to look up")
        deleted = await self.call_ok(client, "whatsapp_delete_template", {"name": template}, "deletes the template")
        if deleted is not None:
            self.check("the delete reports success", deleted.get("success") is True, str(deleted))

    async def reports_tool_failures_as_is_error(self, client: Client) -> None:
        result = await client.call_tool("whatsapp_send_message", {"to": STRANGER, "text": "Hello?"})
        texts = [getattr(block, "text", "") for block in result.content]
        self.check("a send outside the window is isError", result.is_error is True, f"result={result}")
        text = texts[0] if texts else ""
        self.check(
            "the failure reads first as one line naming the code and the template hint",
            "131047" in text and "whatsapp_send_template" in text and "\n" not in text,
            text,
        )
        try:
            error = json.loads(texts[1]).get("error", {}) if len(texts) > 1 else {}
        except ValueError:
            error = {}
        self.check(
            "the failure carries the structured error (code, title, details, hint, retryable)",
            error.get("code") == 131047
            and "whatsapp_send_template" in error.get("hint", "")
            and error.get("retryable") is False
            and bool(error.get("title"))
            and bool(error.get("details")),
            f"content={texts}",
        )
        # structuredContent must match the outputSchema, which describes success.
        self.check(
            "the failure has no structuredContent to violate the outputSchema",
            result.structured_content is None,
            f"structuredContent={result.structured_content}",
        )

    async def rejects_an_unknown_tool_with_invalid_params(self, client: Client) -> None:
        try:
            result = await client.call_tool("whatsapp_no_such_tool", {})
            self.check("an unknown tool is a JSON-RPC -32602", False, f"returned a result: {result}")
        except MCPError as e:
            self.check("an unknown tool is a JSON-RPC -32602", e.code == -32602, f"code {e.code}: {e.message}")


async def run_stdio(checks: Checks, binary: str, mode: str, tool_order: list[list[str]]) -> None:
    label = f"stdio {mode}"
    params = StdioServerParameters(command=binary, args=server_args(binary))
    expected = "2025-11-25" if mode == "legacy" else "2026-07-28"
    try:
        async with Client(params, mode=mode, read_timeout_seconds=60) as client:
            await Session(checks, label, re.sub(r"\W", "", mode), tool_order).run(client, expected)
    except Exception as e:
        checks.check(f"[{label}] session runs to the end", False, f"{type(e).__name__}: {e}")


def stdio_exits_promptly_on_eof(checks: Checks, binary: str) -> None:
    """Raw stdio: only JSON-RPC on stdout, and EOF on stdin ends the process."""
    proc = subprocess.Popen(
        [binary, *server_args(binary)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    init = {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "eof-test", "version": "0"}},
    }
    proc.stdin.write(json.dumps(init) + "\n")
    proc.stdin.flush()
    first = proc.stdout.readline()
    closed_at = time.monotonic()
    proc.stdin.close()
    try:
        code = proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        code = None
    elapsed = time.monotonic() - closed_at
    rest = proc.stdout.read()
    try:
        reply = json.loads(first)
    except ValueError:
        reply = {}
    checks.check(
        "[stdio raw] answers initialize on stdout",
        reply.get("id") == 0 and reply.get("result", {}).get("protocolVersion") == "2025-11-25",
        first[:200],
    )
    checks.check(
        "[stdio raw] exits with 0 within 5 s of EOF on stdin",
        code == 0,
        f"exit code {code} after {elapsed:.1f} s",
    )
    checks.check("[stdio raw] writes nothing but protocol to stdout", rest == "", rest[:200])


class HttpServer:
    """`host-harness serve --http 127.0.0.1:0 --sandbox` in the background."""

    def __init__(self, binary: str):
        self.proc = subprocess.Popen(
            [binary, *server_args(binary), "--http", "127.0.0.1:0"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.url = None
        self.stdout: list[str] = []
        deadline = time.monotonic() + 120
        assert self.proc.stderr is not None
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                break
            sys.stderr.write(line)
            m = re.search(r"MCP server listening on (http://\S+/mcp)", line)
            if m:
                self.url = m.group(1)
                break
        if self.url is None:
            self.proc.kill()
            raise RuntimeError("the HTTP server did not report its address")
        # Keep draining both pipes so the server never blocks on a full pipe.
        threading.Thread(target=self._drain, args=(self.proc.stderr, None), daemon=True).start()
        threading.Thread(target=self._drain, args=(self.proc.stdout, self.stdout), daemon=True).start()

    @staticmethod
    def _drain(pipe, sink) -> None:
        for line in pipe:
            if sink is not None:
                sink.append(line)

    def stop(self) -> int:
        self.proc.terminate()
        try:
            return self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return -9


async def run_http(checks: Checks, url: str, mode: str, tool_order: list[list[str]]) -> None:
    label = f"http {mode}"
    expected = "2025-11-25" if mode == "legacy" else "2026-07-28"
    try:
        async with Client(url, mode=mode, read_timeout_seconds=60) as client:
            await Session(checks, label, "http" + re.sub(r"\W", "", mode), tool_order).run(client, expected)
    except Exception as e:
        checks.check(f"[{label}] session runs to the end", False, f"{type(e).__name__}: {e}")


async def main(binary: str) -> int:
    checks = Checks()
    tool_order: list[list[str]] = []
    stdio_exits_promptly_on_eof(checks, binary)
    for mode in ("legacy", "auto", "2026-07-28"):
        await run_stdio(checks, binary, mode, tool_order)
    server = HttpServer(binary)
    try:
        for mode in ("legacy", "auto", "2026-07-28"):
            await run_http(checks, server.url, mode, tool_order)
    finally:
        code = server.stop()
    checks.check("the HTTP server stops cleanly on SIGTERM", code == 0, f"exit code {code}")
    checks.check("the HTTP server writes nothing to stdout", not server.stdout, "".join(server.stdout)[:200])
    print(f"python-sdk: {checks.passed} passed, {checks.failed} failed")
    return 0 if checks.failed == 0 else 1


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__)
        sys.exit(2)
    sys.exit(asyncio.run(main(sys.argv[1])))
