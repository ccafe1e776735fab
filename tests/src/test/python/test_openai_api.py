"""The OpenAI-compatible HTTP API of a running `shardlight serve`, driven by the official `openai`
Python SDK, unmodified (and `langchain-openai` where it can be imported).

The server serves "gemma" (Gemma 3) and "llama" (Llama 3.2): random weights with the real
vocabularies, small layers (hidden 64, 2 layers) for speed, and the REAL tokenizers and chat
templates (tokenizer.json + tokenizer_config.json beside each checkpoint). Their output is random
text; every step of the path is real. Usage is checked against what is served: completion_tokens
equals the tokens streamed (one logprob entry each) and prompt_tokens equals what Hugging Face
`tokenizers` gives for the model's own chat template rendered as transformers renders it.

Environment (set by tests/.../OpenAiSdkTest, which starts the server; else this starts its own):
  SHARDLIGHT_BASE_URL     the running server (API key sk-shardlight-test, tenant tenant-sdk)
  SHARDLIGHT_METRICS_URL  its /metrics
  SHARDLIGHT_MODEL_DIRS   gemma=DIR,llama=DIR: the served checkpoints (for their tokenizer files)
  SHARDLIGHT_CONTEXT      the context length it serves (default 4096)
  SHARDLIGHT_CMD          command that runs the CLI when this starts the server (default bin/shardlight)
  SHARDLIGHT_TOKENIZERS   the fetched tokenizer files (default ~/.cache/shardlight/tokenizers)
"""
import datetime
import json
import os
import re
import shlex
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import jinja2
import jinja2.ext
import jinja2.sandbox
import openai
import pytest
from tokenizers import Tokenizer

ROOT = Path(__file__).resolve().parents[4]
KEY = "sk-shardlight-test"
TENANT = "tenant-sdk"
MODELS = ["gemma", "llama"]
SIZE = "64,128,2,2,1,32"
STARTUP_S = float(os.environ.get("SHARDLIGHT_STARTUP_S", "240"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, key=None, timeout=5):
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"} if key else {})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, r.read().decode()


def make_models(work: Path, cli):
    """The two checkpoints, written by `shardlight random-model` with the real tokenizer files."""
    tok = Path(os.environ.get("SHARDLIGHT_TOKENIZERS", Path.home() / ".cache" / "shardlight" / "tokenizers"))
    subprocess.run(["bash", str(ROOT / "tokenizer-service/tokenizer/src/test/scripts/fetch-tokenizers.sh"), str(tok)], check=True)
    dirs = {"gemma": work / "gemma", "llama": work / "llama"}
    subprocess.run(cli + ["random-model", "--preset", "gemma3-1b", "--format", "hf", "--type", "BF16", "--size", SIZE,
                          "--out", str(dirs["gemma"]), "--tokenizer", str(tok / "gemma3")], check=True)
    subprocess.run(cli + ["random-model", "--preset", "llama3.2-1b", "--format", "hf", "--type", "BF16", "--size", SIZE,
                          "--out", str(dirs["llama"]), "--tokenizer", str(tok / "llama3"),
                          "--chat-template", str(tok / "llama3.2-instruct.jinja")], check=True)
    return dirs


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    context = int(os.environ.get("SHARDLIGHT_CONTEXT", "4096"))
    if os.environ.get("SHARDLIGHT_BASE_URL"):
        dirs = dict(kv.split("=", 1) for kv in os.environ["SHARDLIGHT_MODEL_DIRS"].split(","))
        yield {"base": os.environ["SHARDLIGHT_BASE_URL"].rstrip("/"), "metrics": os.environ.get("SHARDLIGHT_METRICS_URL"),
               "dirs": {k: Path(v) for k, v in dirs.items()}, "context": context}
        return
    work = tmp_path_factory.mktemp("shardlight")
    cli = shlex.split(os.environ.get("SHARDLIGHT_CMD", str(ROOT / "bin" / "shardlight")))
    dirs = make_models(work, cli)
    conf = work / "keys.conf"
    conf.write_text('shardlight.gateway.api-keys { "%s" = "%s" }\n' % (KEY, TENANT))
    http, grpc, metrics = free_port(), free_port(), free_port()
    cmd = cli + ["serve", "--model", f"gemma={dirs['gemma']}", "--model", f"llama={dirs['llama']}", "--config", str(conf),
                 "--host", "127.0.0.1", "--http-port", str(http), "--grpc-port", str(grpc), "--metrics-port", str(metrics),
                 "--port", "0", "--context-length", str(context), "--kv-budget-mb", "16", "--memory-mb", "1024",
                 "--replicas", "1", "--threads", "1"]
    log = open(work / "serve.log", "w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    base = f"http://127.0.0.1:{http}"
    deadline = time.time() + STARTUP_S
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"shardlight serve exited with {proc.returncode}:\n{(work / 'serve.log').read_text()[-4000:]}")
            try:
                if get(base + "/ready")[0] == 200:
                    break
            except OSError:
                pass
            if time.time() > deadline:
                raise RuntimeError(f"not ready after {STARTUP_S}s:\n{(work / 'serve.log').read_text()[-4000:]}")
            time.sleep(0.3)
        yield {"base": base, "metrics": f"http://127.0.0.1:{metrics}/metrics", "dirs": dirs, "context": context}
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()


@pytest.fixture
def client(server):
    return openai.OpenAI(base_url=server["base"] + "/v1", api_key=KEY, max_retries=0, timeout=60)


def metric(server, name, **labels):
    total = 0.0
    for line in get(server["metrics"])[1].splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            if all(f'{k}="{v}"' in line for k, v in labels.items()):
                total += float(line.rsplit(" ", 1)[1])
    return total


def hf_prompt_tokens(model_dir: Path, messages):
    """Prompt length as Hugging Face computes it: the model's chat template rendered as transformers'
    apply_chat_template renders it (sandboxed Jinja, trim_blocks, lstrip_blocks, loopcontrols,
    raise_exception, strftime_now; add_generation_prompt), then encoded by `tokenizers` without
    adding special tokens (the template writes BOS itself)."""
    cfg = json.loads((model_dir / "tokenizer_config.json").read_text())
    env = jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                                       extensions=[jinja2.ext.loopcontrols])

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.datetime.now().strftime(fmt)
    special = {k: (v["content"] if isinstance(v, dict) else v) for k, v in cfg.items()
               if k in ("bos_token", "eos_token", "pad_token", "unk_token") and v is not None}
    text = env.from_string(cfg["chat_template"]).render(messages=messages, add_generation_prompt=True, **special)
    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    return len(tok.encode(text, add_special_tokens=False).ids)


def test_models_list_and_get(client):
    ids = {m.id for m in client.models.list()}
    assert set(MODELS) <= ids
    for m in MODELS:
        assert client.models.retrieve(m).id == m
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("no-such-model")


CHAT = [{"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Hello! Ünïcode 🙂, code `x = 1`, and   spaces."}]


@pytest.mark.parametrize("model", MODELS)
def test_chat_non_streaming(client, server, model):
    r = client.chat.completions.create(model=model, messages=CHAT, max_tokens=8, temperature=0.8, top_p=0.95, seed=1,
                                       user="py-test", extra_body={"top_k": 40, "min_p": 0.0, "repetition_penalty": 1.05})
    assert r.object == "chat.completion" and r.model == model
    assert r.choices[0].message.role == "assistant"
    assert isinstance(r.choices[0].message.content, str)
    assert 1 <= r.usage.completion_tokens <= 8
    assert r.usage.prompt_tokens == hf_prompt_tokens(server["dirs"][model], CHAT)
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
    assert r.choices[0].finish_reason in ("stop", "length")


@pytest.mark.parametrize("model", MODELS)
def test_chat_streaming_usage_matches_tokens_served(client, server, model):
    messages = [{"role": "user", "content": "Count to ten."}]
    before = metric(server, "shardlight_completion_tokens_total", model=model, tenant=TENANT)
    stream = client.chat.completions.create(model=model, messages=messages, max_completion_tokens=16, stream=True,
                                            stream_options={"include_usage": True}, logprobs=True, top_logprobs=2)
    text, tokens, usage, finish, chunks = "", 0, None, None, 0
    for chunk in stream:
        chunks += 1
        if chunk.usage is not None:
            usage = chunk.usage
        for c in chunk.choices:
            text += c.delta.content or ""
            if c.logprobs and c.logprobs.content:
                tokens += len(c.logprobs.content)
                assert all(len(t.top_logprobs) == 2 and t.logprob <= 0 for t in c.logprobs.content)
            finish = c.finish_reason or finish
    assert usage is not None and finish in ("stop", "length")
    assert chunks >= 3, "role chunk, content, finish (and usage) arrive as separate SSE events"
    assert 1 <= usage.completion_tokens <= 16
    assert usage.completion_tokens == tokens, "one logprob entry per token served"
    assert usage.prompt_tokens == hf_prompt_tokens(server["dirs"][model], messages), "HF tokenizers + the model's template"
    after = metric(server, "shardlight_completion_tokens_total", model=model, tenant=TENANT)
    assert after - before == usage.completion_tokens, "usage matches the gateway's token metric for this tenant"


@pytest.mark.parametrize("model", MODELS)
def test_completions(client, model):
    r = client.completions.create(model=model, prompt="Once upon a time", max_tokens=6, logprobs=2, stop=["\n\n\n"])
    assert r.object == "text_completion"
    assert len(r.choices[0].logprobs.tokens) == r.usage.completion_tokens
    chunks = list(client.completions.create(model=model, prompt="Hi", max_tokens=5, stream=True,
                                            stream_options={"include_usage": True}))
    assert any(c.choices and c.choices[0].finish_reason in ("stop", "length") for c in chunks)
    assert chunks[-1].usage is not None and 1 <= chunks[-1].usage.completion_tokens <= 5


def test_completion_from_token_ids(client):
    chunks = list(client.completions.create(model="llama", prompt=[128000, 9906, 1917], max_tokens=6, stream=True,
                                            stream_options={"include_usage": True}))
    assert chunks[-1].usage.prompt_tokens == 3 and 1 <= chunks[-1].usage.completion_tokens <= 6


def test_errors(client, server):
    bad = openai.OpenAI(base_url=server["base"] + "/v1", api_key="sk-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as e:
        bad.chat.completions.create(model="gemma", messages=[{"role": "user", "content": "hi"}])
    assert e.value.status_code == 401 and e.value.code == "invalid_api_key"
    msgs = [{"role": "user", "content": "hi"}]
    with pytest.raises(openai.NotFoundError) as e:
        client.chat.completions.create(model="no-such-model", messages=msgs)
    assert e.value.body["param"] == "model" and e.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="gemma", messages=msgs, n=2)
    assert e.value.body["param"] == "n"
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="gemma", messages=msgs, response_format={"type": "json_object"})
    assert e.value.body["param"] == "response_format"
    context = server["context"]
    for model in MODELS:
        long_chat = [{"role": "user", "content": "hello " * context}]
        for stream in (False, True):
            with pytest.raises(openai.BadRequestError) as e:
                client.chat.completions.create(model=model, messages=long_chat, max_tokens=10, stream=stream)
            assert e.value.code == "context_length_exceeded" and e.value.body["param"] == "messages"
            counts = re.search(r"\((\d+) tokens\).*\((\d+) tokens\)", e.value.body["message"])
            assert counts, e.value.body["message"]
            assert int(counts.group(1)) == hf_prompt_tokens(server["dirs"][model], long_chat), "the prompt's own count"
            assert int(counts.group(2)) == context
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="gemma", messages=msgs, temperature=-1)
    assert e.value.body["param"] == "temperature"


def test_disconnect_mid_stream_stops_generation(client, server):
    model, max_tokens = "llama", 3000
    before = metric(server, "shardlight_completion_tokens_total", model=model, tenant=TENANT)
    stream = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Tell a long story"}],
                                            max_tokens=max_tokens, temperature=1.0, stream=True)
    seen = 0
    for _ in stream:
        seen += 1
        if seen == 3:
            break
    stream.close()  # drops the connection mid-stream
    closed = time.time()
    while time.time() < closed + 10 and metric(server, "shardlight_gateway_in_flight_requests", model=model) > 0:
        time.sleep(0.05)
    ended = time.time() - closed
    assert metric(server, "shardlight_gateway_in_flight_requests", model=model) == 0, "the stream's session ended"
    assert ended < 3, f"the call ended {ended:.1f} s after the disconnect"
    served = metric(server, "shardlight_completion_tokens_total", model=model, tenant=TENANT) - before
    time.sleep(0.5)
    assert metric(server, "shardlight_completion_tokens_total", model=model, tenant=TENANT) - before == served, \
        "no tokens after the session ended"
    assert served < max_tokens, f"generation stopped early ({served} of {max_tokens} tokens), not run to max_tokens"
    deadline = time.time() + 10  # replica gauges are as last reported (router poll interval)
    while time.time() < deadline and metric(server, "shardlight_replica_kv_cache_bytes", model=model) > 0:
        time.sleep(0.1)
    assert metric(server, "shardlight_replica_kv_cache_bytes", model=model) == 0, "the sequence's KV cache was freed"
    r = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "again"}], max_tokens=4)
    assert r.usage.completion_tokens >= 1


def test_langchain_openai(server):
    lc = pytest.importorskip("langchain_openai", reason="langchain-openai cannot be imported here: langchain-core "
                             "1.6.5 (the only one among the local wheels) imports langchain_protocol, which no local "
                             "wheel provides")
    llm = lc.ChatOpenAI(base_url=server["base"] + "/v1", api_key=KEY, model="gemma", max_tokens=8, max_retries=0)
    assert isinstance(llm.invoke("Hello").content, str)
    assert sum(1 for _ in llm.stream("Hello")) >= 1
