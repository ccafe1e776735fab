#!/usr/bin/env bash
# Side-by-side benchmark, same corpus, same run: Shardlight's tokenizer (Java) and Hugging Face
# tokenizers (Rust, through its Python binding), single thread, for Gemma 3 and Llama 3.
# Reports load time, retained heap (Java), and encode throughput (median pass over the corpus).
#
#   tokenizer-service/tokenizer/src/test/scripts/bench.sh [SECONDS_PER_SIDE] [PYTHON]
#
# Needs: a built module (./mvnw -pl tokenizer-service/tokenizer -am verify), the fetched tokenizer
# files, and a Python with `tokenizers` (default /work/venv/bin/python). The corpus is the goldens'
# corpus (gettext catalogs of ~180 locales plus edge cases).
set -euo pipefail
here="$(cd "$(dirname "$0")/../../.." && pwd)"   # tokenizer-service/tokenizer
root="$(cd "$here/../.." && pwd)"
seconds="${1:-10}"
python="${2:-/work/venv/bin/python}"
cache="${SHARDLIGHT_TOKENIZERS_DIR:-$HOME/.cache/shardlight/tokenizers}"
java="${JAVA25_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}/bin/java"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$python" - "$here/src/test/resources/goldens/corpus.jsonl" "$work/corpus.jsonl" <<'PY'
import json, sys
rows = [json.loads(l)["text"] for l in open(sys.argv[1], encoding="utf-8")]
with open(sys.argv[2], "w", encoding="utf-8") as f:
    for _ in range(1):
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
PY
(cd "$root" && ./mvnw -q -B -o -pl tokenizer-service/tokenizer dependency:build-classpath \
    -Dmdep.outputFile="$work/cp.txt" -Dmdep.includeScope=test >/dev/null)
cp="$here/target/classes:$here/target/test-classes:$(cat "$work/cp.txt")"

rounds="${ROUNDS:-3}"
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); $rounds alternating rounds, ${seconds}s per side"
for tok in gemma3 llama3; do
  for round in $(seq "$rounds"); do
    "$java" -Xmx1g -XX:+UseParallelGC -cp "$cp" dev.shardlight.tokenizer.TokenizerBench "$cache/$tok" "$work/corpus.jsonl" "$seconds"
    echo -n "(no word cache) "
    "$java" -Xmx1g -XX:+UseParallelGC -Dshardlight.tokenizer.wordCache=0 -cp "$cp" dev.shardlight.tokenizer.TokenizerBench "$cache/$tok" "$work/corpus.jsonl" "$seconds"
    RAYON_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false "$python" "$here/src/test/python/bench_hf.py" "$cache/$tok" "$work/corpus.jsonl" "$seconds"
  done
done
