#!/usr/bin/env bash
# Runs the OpenAI SDK tests (test_openai_api.py) against a `shardlight serve` they start themselves.
# Creates tests/target/venv once (idempotent) from the local wheels pip is configured with.
# Usage: tests/src/test/python/run.sh [pytest args]; SHARDLIGHT_CMD overrides the CLI (default bin/shardlight).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../../.." && pwd)"
VENV="${SHARDLIGHT_TEST_VENV:-$ROOT/tests/target/venv}"
PY="${PYTHON:-python3}"
if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -c "import openai, pytest, tokenizers, jinja2" 2>/dev/null; then
  "$PY" -m venv "$VENV"
  # --retries 0: an unreachable default index fails fast; the local wheels (find-links / file indexes) still serve
  "$VENV/bin/pip" install -q --retries 0 --timeout 10 openai pytest tokenizers jinja2
  # optional: langchain-openai (langchain-core 1.6.5 needs langchain-protocol, which the local wheels lack; the test then skips)
  "$VENV/bin/pip" install -q --retries 0 --timeout 10 langchain-openai >/dev/null 2>&1 \
    || "$VENV/bin/pip" install -q --retries 0 --timeout 10 tiktoken jsonpatch langsmith tenacity uuid-utils >/dev/null 2>&1 \
    && "$VENV/bin/pip" install -q --retries 0 --timeout 10 --no-deps langchain-core langchain-openai >/dev/null 2>&1 || true
fi
cd "$ROOT"
export PYTHONDONTWRITEBYTECODE=1
exec timeout "${SHARDLIGHT_PYTEST_TIMEOUT:-600}" "$VENV/bin/python" -m pytest -q -p no:cacheprovider "$HERE/test_openai_api.py" "$@"
