"""Parses `serve --admin`'s /metrics with the official Prometheus Python client.

Starts the real binary (`serve --sandbox --admin 127.0.0.1:0`, MCP over stdio),
scrapes /metrics, makes one tool call, scrapes again, and checks with both of
prometheus_client's parsers (Prometheus text and OpenMetrics) that the
exposition parses and that the call's counter and histogram moved.
Usage: metrics_test.py PATH/TO/host-harness
"""

import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import urllib.request

from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families

CUSTOMER = "+16505551234"


def scrape(admin):
    with urllib.request.urlopen(f"{admin}/metrics", timeout=30) as response:
        assert response.status == 200, response.status
        return response.read().decode()


def samples(text):
    """{(sample name, sorted labels): value} from the Prometheus text parser,
    after checking the OpenMetrics parser accepts the same text."""
    list(openmetrics_families(text))
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(parsed, name, **labels):
    return sum(
        v
        for (n, ls), v in parsed.items()
        if n == name and set(labels.items()) <= set(ls)
    )


def main():
    binary = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, XDG_DATA_HOME=f"{tmp}/data", XDG_CONFIG_HOME=f"{tmp}/config")
        proc = subprocess.Popen(
            [binary, "serve", "--sandbox", "--inbound-from", CUSTOMER, "--admin", "127.0.0.1:0"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        )
        lines = queue.Queue()
        threading.Thread(
            target=lambda: [lines.put(line) for line in proc.stderr], daemon=True
        ).start()
        try:
            admin = None
            while admin is None:
                line = lines.get(timeout=120)
                sys.stderr.write(line)
                if "Admin endpoints listening on " in line:
                    admin = line.split("Admin endpoints listening on ")[1].split()[0]
            before = samples(scrape(admin))
            call = {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "tools/call",
                "params": {
                    "name": "whatsapp_send_template",
                    "arguments": {"to": CUSTOMER, "name": "hello_world", "language": "en_US"},
                    "_meta": {
                        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                        "io.modelcontextprotocol/clientCapabilities": {},
                        "io.modelcontextprotocol/clientInfo": {"name": "metrics_test", "version": "0"},
                    },
                },
            }
            proc.stdin.write(json.dumps(call) + "\n")
            proc.stdin.flush()
            reply = json.loads(proc.stdout.readline())
            assert reply["result"]["isError"] is False, reply
            after = samples(scrape(admin))
            for name, labels in (
                ("whatsapp_tool_calls_total", dict(tool="whatsapp_send_template", outcome="ok")),
                ("whatsapp_tool_call_duration_seconds_count", dict(tool="whatsapp_send_template")),
            ):
                moved = value(after, name, **labels) - value(before, name, **labels)
                assert moved == 1, f"{name} moved by {moved}, expected 1"
            assert value(after, "whatsapp_graph_responses_total", status="200") >= 1
            for name in (
                "whatsapp_store_errors_total",
                "whatsapp_instances_live",
                "whatsapp_mcp_sessions_live",
                "whatsapp_webhook_queue_depth",
                "whatsapp_webhook_deliveries_total",
            ):
                assert any(n == name for n, _ in after), f"{name} missing from /metrics"
            print("metrics_test: /metrics parses and the counters moved")
        finally:
            proc.terminate()
            proc.wait(timeout=30)


if __name__ == "__main__":
    main()
