"""A load driver for one client library, run as a script inside that library's environment.

The orchestrator (``python -m bench``) starts one driver process per contender and talks to it
over stdin/stdout, one JSON object per line, so every contender stays warm and the rounds of
different contenders can be interleaved. This file imports nothing from ``bench`` and only the
client it drives (lakecode only for ``--client lakecode``), because it also runs under the
throwaway ``bench/.envs/<name>/bin/python`` interpreters where lakecode is not installed.

Clients:
    ``httpx``     a bare ``httpx.AsyncClient``: POST the JSON body, parse SSE lines by hand (the floor)
    ``lakecode``  ``lakecode.databricks.provider.build_databricks_provider`` (route forced to
                  ``/serving-endpoints``, so every contender hits the same URL), ``stream_chat``
    ``openai``    ``openai.AsyncOpenAI(base_url=<workspace>/serving-endpoints)``
    ``litellm``   ``litellm.acompletion(model="databricks/<endpoint>", api_base=...)``

Commands (stdin), answered with one JSON line each:
    ``{"cmd": "load", "stream": bool, "concurrency": C, "requests": N}``
        N requests by C concurrent workers; answers latencies (s), wall (s), process CPU (s),
        errors. Models are taken round robin from ``--models``.
    ``{"cmd": "soak", "stream": true, "concurrency": C, "seconds": D}``
        C workers issue requests back to back for D seconds; answers ok / failed counts and the
        error kinds.
    ``{"cmd": "quit"}``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

Call = Callable[[str, bool], Awaitable[str]]
"""``call(model, stream) -> text``: one chat turn, raising on failure."""

PROMPT = (
    "Summarise the following in one sentence, please: the quick brown fox jumps over the lazy dog "
    "while the lazy dog dreams of chasing the quick brown fox across a wide green field under a "
    "pale autumn sky, and neither of them ever quite catches the other one."
)
MAX_TOKENS = 256


def _messages() -> Any:
    return [{"role": "system", "content": "You are terse."}, {"role": "user", "content": PROMPT}]


async def _httpx_client(args: argparse.Namespace) -> tuple[Call, Callable[[], Awaitable[None]]]:
    import httpx

    client = httpx.AsyncClient(base_url=args.url, headers={"Authorization": f"Bearer {args.pat}"},
                               timeout=120.0, limits=httpx.Limits(max_connections=200,
                                                                  max_keepalive_connections=200))

    async def call(model: str, stream: bool) -> str:
        body = {"model": model, "messages": _messages(), "max_tokens": MAX_TOKENS, "stream": stream}
        payload = json.dumps(body).encode()
        if not stream:
            response = await client.post("/serving-endpoints/chat/completions", content=payload,
                                         headers={"Content-Type": "application/json"})
            response.raise_for_status()
            return str(response.json()["choices"][0]["message"]["content"])
        text: list[str] = []
        async with client.stream("POST", "/serving-endpoints/chat/completions", content=payload,
                                 headers={"Content-Type": "application/json",
                                          "Accept": "text/event-stream"}) as response:
            response.raise_for_status()
            async for line in response.aiter_lines():
                if line.startswith("data: ") and line != "data: [DONE]":
                    choices = json.loads(line[6:]).get("choices") or [{}]
                    content = (choices[0].get("delta") or {}).get("content")
                    if content:
                        text.append(content)
        return "".join(text)

    return call, client.aclose


async def _lakecode_client(args: argparse.Namespace) -> tuple[Call, Callable[[], Awaitable[None]]]:
    from pydantic import SecretStr

    from lakecode.config.env import EnvOverrides
    from lakecode.config.settings import DatabricksSettings, Settings
    from lakecode.databricks.provider import build_databricks_provider
    from lakecode.llm.types import ChatRequest, Finish, Message

    if args.auth == "m2m":
        dbx = DatabricksSettings(host=args.url, auth_type="oauth-m2m", client_id=args.client_id,
                                 route="serving-endpoints")
        secrets = {"client_secret": SecretStr(args.client_secret)}
    else:
        dbx = DatabricksSettings(host=args.url, auth_type="pat", route="serving-endpoints")
        secrets = {"pat": SecretStr(args.pat)}
    settings = Settings(databricks=dbx)
    provider = build_databricks_provider(settings, EnvOverrides(settings=settings, secrets=secrets))
    history = (Message.system("You are terse."), Message.user(PROMPT))

    async def call(model: str, stream: bool) -> str:
        request = ChatRequest(model=model, messages=history, max_tokens=MAX_TOKENS, stream=stream)
        text = ""
        async for event in provider.stream_chat(request):
            if isinstance(event, Finish):
                text = event.message.text
        return text

    return call, provider.aclose


async def _openai_client(args: argparse.Namespace) -> tuple[Call, Callable[[], Awaitable[None]]]:
    import openai

    client = openai.AsyncOpenAI(base_url=f"{args.url}/serving-endpoints", api_key=args.pat)

    async def call(model: str, stream: bool) -> str:
        if not stream:
            response = await client.chat.completions.create(
                model=model, messages=_messages(), max_tokens=MAX_TOKENS)
            return str(response.choices[0].message.content)
        text: list[str] = []
        chunks = await client.chat.completions.create(
            model=model, messages=_messages(), max_tokens=MAX_TOKENS, stream=True)
        async for chunk in chunks:
            if chunk.choices and chunk.choices[0].delta.content:
                text.append(chunk.choices[0].delta.content)
        return "".join(text)

    return call, client.close


async def _litellm_client(args: argparse.Namespace) -> tuple[Call, Callable[[], Awaitable[None]]]:
    import litellm  # type: ignore[import-not-found,unused-ignore]

    litellm.telemetry = False
    litellm.suppress_debug_info = True
    base = f"{args.url}/serving-endpoints"
    if args.auth == "m2m":
        # LiteLLM's documented M2M path reads these variables (no api_key given).
        os.environ["DATABRICKS_CLIENT_ID"] = args.client_id
        os.environ["DATABRICKS_CLIENT_SECRET"] = args.client_secret
        os.environ["DATABRICKS_API_BASE"] = base
        extra: dict[str, Any] = {}
    else:
        extra = {"api_key": args.pat, "api_base": base}

    async def call(model: str, stream: bool) -> str:
        if not stream:
            response = await litellm.acompletion(model=f"databricks/{model}", messages=_messages(),
                                                 max_tokens=MAX_TOKENS, **extra)
            return str(response.choices[0].message.content)
        text: list[str] = []
        chunks = await litellm.acompletion(model=f"databricks/{model}", messages=_messages(),
                                           max_tokens=MAX_TOKENS, stream=True, **extra)
        async for chunk in chunks:
            if chunk.choices and chunk.choices[0].delta.content:
                text.append(chunk.choices[0].delta.content)
        return "".join(text)

    async def close() -> None:
        return None

    return call, close


_CLIENTS = {"httpx": _httpx_client, "lakecode": _lakecode_client, "openai": _openai_client,
            "litellm": _litellm_client}


async def _load(call: Call, models: list[str], cmd: dict[str, Any]) -> dict[str, Any]:
    stream, concurrency, total = bool(cmd["stream"]), int(cmd["concurrency"]), int(cmd["requests"])
    latencies: list[float] = []
    errors: dict[str, int] = {}
    counter = iter(range(total))

    async def worker() -> None:
        for i in counter:
            started = time.perf_counter()
            try:
                text = await call(models[i % len(models)], stream)
                if not text:
                    raise ValueError("empty answer")
            except Exception as exc:  # a load driver counts failures of any kind
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                continue
            latencies.append(time.perf_counter() - started)

    wall, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return {"latencies": latencies, "wall": time.perf_counter() - wall,
            "cpu": time.process_time() - cpu, "errors": errors}


async def _soak(call: Call, models: list[str], cmd: dict[str, Any]) -> dict[str, Any]:
    deadline = time.monotonic() + float(cmd["seconds"])
    ok = 0
    errors: dict[str, int] = {}
    samples: list[str] = []

    async def worker(n: int) -> None:
        nonlocal ok
        i = n
        while time.monotonic() < deadline:
            try:
                await call(models[i % len(models)], bool(cmd.get("stream", True)))
                ok += 1
            except Exception as exc:  # counted, never fatal: the point is to count them
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                if len(samples) < 3:
                    samples.append(f"{type(exc).__name__}: {str(exc)[:200]}")
            i += 1

    await asyncio.gather(*(worker(n) for n in range(int(cmd["concurrency"]))))
    return {"ok": ok, "failed": sum(errors.values()), "errors": errors, "samples": samples}


async def _serve(args: argparse.Namespace) -> None:
    call, close = await _CLIENTS[args.client](args)
    models = args.models.split(",")
    loop = asyncio.get_running_loop()
    try:
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line.strip():
                break
            cmd = json.loads(line)
            if cmd["cmd"] == "quit":
                break
            result = await (_load if cmd["cmd"] == "load" else _soak)(call, models, cmd)
            sys.stdout.write(json.dumps(result) + "\n")
            sys.stdout.flush()
    finally:
        await close()


async def _once(args: argparse.Namespace) -> None:
    call, close = await _CLIENTS[args.client](args)
    try:
        text = await call(args.models.split(",")[0], True)
    finally:
        await close()
    if not text:
        raise SystemExit("empty answer")


def main() -> None:
    parser = argparse.ArgumentParser(description="bench load driver (one client library)")
    parser.add_argument("--client", choices=sorted(_CLIENTS), required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--models", required=True, help="comma-separated endpoint names")
    parser.add_argument("--auth", choices=["pat", "m2m"], default="pat")
    parser.add_argument("--pat", default="")
    parser.add_argument("--client-id", default="")
    parser.add_argument("--client-secret", default="")
    parser.add_argument("--once", action="store_true",
                        help="run one streamed turn and exit (the memory benchmark)")
    args = parser.parse_args()
    if args.once:
        asyncio.run(_once(args))
        return
    sys.stdout.write(json.dumps({"ready": args.client}) + "\n")
    sys.stdout.flush()
    asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
