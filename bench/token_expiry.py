"""Token handling under expiry: OAuth M2M tokens that live 5 s, 32 concurrent streams, 60 s.

Each contender gets a fresh emulator process (token lifetime 5 s, same service principal) and
its driver runs 32 workers that stream chat turns back to back over eight endpoints. Counted:
turns that succeeded, turns that failed, calls to the token endpoint (``client_credentials``),
and requests the workspace rejected with 401/403. lakecode signs in as ``oauth-m2m``; LiteLLM
uses its documented M2M path (``DATABRICKS_CLIENT_ID`` / ``DATABRICKS_CLIENT_SECRET`` /
``DATABRICKS_API_BASE``, no API key). The ideal is one token request per token lifetime (or per
half-lifetime for a client that refreshes early, as lakecode does: min(5 min, TTL/2) before
expiry) and no failed turn.
"""

from __future__ import annotations

from bench._emulator import EmulatorProcess
from bench._envs import ThrowawayEnv
from bench._report import Row
from bench.overhead import ENDPOINTS, Driver, contenders

__all__ = ["run"]

TOKEN_TTL = 5.0
STREAMS = 32


def _soak(client: str, python: object, seconds: float) -> dict[str, float]:
    with EmulatorProcess(token_ttl=TOKEN_TTL, synthetic=ENDPOINTS) as emu:
        models = emu.synthetic_models(ENDPOINTS)
        with Driver(client, str(python), emu, models, auth="m2m") as driver:
            result = driver.ask(cmd="soak", stream=True, concurrency=STREAMS, seconds=seconds)
        tokens = emu.admin("token-requests")
        records = emu.admin("requests")["requests"]
    rejected = sum(1 for r in records
                   if r["status"] in (401, 403) and r["path"].startswith("/serving-endpoints"))
    return {"ok": result["ok"], "failed": result["failed"],
            "tokens": tokens["by_grant_type"].get("client_credentials", 0), "rejected": rejected,
            "samples": result["samples"]}


def run(envs: dict[str, ThrowawayEnv], *, seconds: float) -> tuple[list[Row], list[str]]:
    """Measure; returns the rows and notes."""
    interpreters = contenders(envs)
    results: dict[str, dict[str, float]] = {}
    notes: list[str] = []
    for client in ("lakecode", "litellm"):
        if client not in interpreters:
            notes.append(f"token expiry: {client} is not installed; not measured")
            continue
        results[client] = _soak(client, interpreters[client], seconds)
        for sample in results[client].get("samples", []):  # type: ignore[union-attr]
            notes.append(f"token expiry: {client} error sample: {sample}")
    label = f"{STREAMS} streams, token TTL {TOKEN_TTL:g} s, {seconds:g} s"
    ideal = seconds / TOKEN_TTL

    def values(key: str) -> dict[str, float | None]:
        return {c: results[c][key] for c in results}

    rows = [
        Row("token expiry", f"{label}: token requests", "count", values("tokens"),
            note=f"one per lifetime would be ~{ideal:.0f}"),
        Row("token expiry", f"{label}: failed turns", "count", values("failed")),
        Row("token expiry", f"{label}: requests rejected 401/403", "count", values("rejected")),
        Row("token expiry", f"{label}: turns completed", "count", values("ok"), higher=True),
    ]
    return rows, notes
