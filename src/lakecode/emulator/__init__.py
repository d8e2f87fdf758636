"""A local Databricks workspace emulator: the REST surface lakecode talks to, on loopback.

It imports nothing from the rest of lakecode (it tests the wire, not our assumptions)::

    from lakecode.emulator import Emulator, EmulatorConfig

    with Emulator(EmulatorConfig(token_ttl=60)) as emu:
        httpx.get(f"{emu.url}/api/2.0/serving-endpoints", headers={"Authorization": f"Bearer {emu.pat}"})
        emu.faults.rate_limit(retry_after=2, endpoint="databricks-*")
        emu.clock.advance(61)
        emu.scripted_model.enqueue(
            ["hello", {"tool_calls": [{"name": "shell", "arguments": {"command": "ls"}}]}]
        )
"""

from __future__ import annotations

from lakecode.emulator.catalog import Endpoint, synthetic_endpoints
from lakecode.emulator.config import EmulatorConfig, OAuthApp
from lakecode.emulator.errors import NAMED_ERRORS
from lakecode.emulator.faults import FAULT_KINDS, Fault
from lakecode.emulator.requestlog import RequestRecord, TokenRequest
from lakecode.emulator.scripted_model import DEMO_PROMPT, Reply, ScriptedModel, ToolCallSpec
from lakecode.emulator.server import Emulator
from lakecode.emulator.tokens import token_id

__all__ = [
    "DEMO_PROMPT",
    "FAULT_KINDS",
    "NAMED_ERRORS",
    "Emulator",
    "EmulatorConfig",
    "Endpoint",
    "Fault",
    "OAuthApp",
    "Reply",
    "RequestRecord",
    "ScriptedModel",
    "TokenRequest",
    "ToolCallSpec",
    "synthetic_endpoints",
    "token_id",
]
