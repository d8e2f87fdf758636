"""Helpers for provider tests: a PAT-authenticated ``DatabricksProvider`` on the emulator."""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import SecretStr

from lakecode.clock import Clock
from lakecode.config.settings import DatabricksSettings, RouteChoice, Settings
from lakecode.databricks.auth.httpx_auth import BearerAuth
from lakecode.databricks.auth.identity import AuthIdentity
from lakecode.databricks.auth.token_source import RefreshingTokenSource, Token
from lakecode.databricks.provider import DatabricksProvider, build_databricks_provider
from lakecode.emulator import Emulator
from lakecode.llm.types import ChatRequest, Finish, Message, StreamEvent, ToolSpec
from lakecode.testing.fakes import FakeClock


class _Pat:
    """A token fetcher returning a fixed personal access token."""

    def __init__(self, pat: SecretStr) -> None:
        self._pat = pat

    async def fetch(self, current: Token | None) -> Token:
        return Token(self._pat.get_secret_value())


def pat_auth(host: str, pat: str, clock: Clock) -> httpx.Auth:
    """The auth layer's bearer auth over a static PAT."""
    source = RefreshingTokenSource(AuthIdentity(host, "pat"), _Pat(SecretStr(pat)), clock=clock)
    return BearerAuth(source)


def settings_for(emu: Emulator, *, route: RouteChoice = "auto", model: str | None = None) -> Settings:
    return Settings(model=model, databricks=DatabricksSettings(host=emu.url, auth_type="pat",
                                                              route=route))


def provider_for(emu: Emulator, *, clock: Clock | None = None, route: RouteChoice = "auto",
                 **kwargs: Any) -> DatabricksProvider:
    """A provider for the emulator with PAT auth and a fake clock (retries never sleep)."""
    clock = clock or FakeClock()
    return build_databricks_provider(settings_for(emu, route=route), clock=clock,
                                     auth=pat_auth(emu.url, emu.pat, clock), **kwargs)


SHELL = ToolSpec("shell", "Run a shell command.", {
    "type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]})


def ask(model: str, text: str = "hello", *, tools: tuple[ToolSpec, ...] = (), stream: bool = True,
        **kw: Any) -> ChatRequest:
    return ChatRequest(model=model, messages=(Message.user(text),), tools=tools, stream=stream, **kw)


async def run(provider: DatabricksProvider, request: ChatRequest) -> tuple[list[StreamEvent], Finish]:
    events = [e async for e in provider.stream_chat(request)]
    finish = events[-1]
    assert isinstance(finish, Finish)
    return events, finish
