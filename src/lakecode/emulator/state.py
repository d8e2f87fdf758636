"""One emulator's mutable state: config, credentials, clock, catalogue, faults, logs, model.

A fresh ``EmulatorState`` is built for every ``Emulator.reset()``, so nothing leaks from one test
to the next even when the HTTP server is shared.
"""

from __future__ import annotations

import secrets
import threading
from collections import deque
from dataclasses import dataclass, field

from lakecode.emulator.catalog import Catalog, load_catalog, synthetic_endpoints
from lakecode.emulator.clock import EmulatorClock
from lakecode.emulator.config import EmulatorConfig
from lakecode.emulator.faults import FaultSet
from lakecode.emulator.requestlog import RequestLog, TokenRequests
from lakecode.emulator.scripted_model import ScriptedModel
from lakecode.emulator.tokens import TokenStore, new_client_id, new_client_secret, new_pat

__all__ = ["EmulatorState", "PendingConsent"]


@dataclass
class PendingConsent:
    """An authorize request waiting for a person to click Allow (``--consent``)."""

    client_id: str
    redirect_uri: str
    code_challenge: str
    scope: str
    state: str | None


@dataclass
class EmulatorState:
    """Everything one emulated workspace knows. Built by ``EmulatorState.create``."""

    config: EmulatorConfig
    base_url: str
    pat: str
    client_id: str
    client_secret: str
    workspace_id: str
    clock: EmulatorClock
    tokens: TokenStore
    catalog: Catalog
    faults: FaultSet
    log: RequestLog
    token_requests: TokenRequests
    scripted_model: ScriptedModel
    consents: dict[str, PendingConsent] = field(default_factory=dict)
    rate_windows: dict[str, deque[float]] = field(default_factory=dict)
    signatures: set[str] = field(default_factory=set)
    rate_lock: threading.Lock = field(default_factory=threading.Lock)

    def over_rate_limit(self, endpoint: str, qps: int) -> bool:
        """Record one query to ``endpoint``; True when it exceeds ``qps`` in the last second."""
        now = self.clock.time()
        with self.rate_lock:
            window = self.rate_windows.setdefault(endpoint, deque())
            while window and window[0] <= now - 1.0:
                window.popleft()
            if len(window) >= qps:
                return True
            window.append(now)
            return False

    @classmethod
    def create(cls, config: EmulatorConfig, base_url: str) -> EmulatorState:
        """A fresh state for ``config`` (copied) served at ``base_url``."""
        config = config.copy()
        clock = EmulatorClock()
        tokens = TokenStore(clock, issuer=f"{base_url}/oidc")
        pat = config.pat or new_pat()
        tokens.add_pat(pat)
        endpoints = load_catalog(config.catalog)
        if config.synthetic_endpoints:
            endpoints += synthetic_endpoints(config.synthetic_endpoints)
        faults = FaultSet()
        for fault in config.faults:
            faults.add(fault)
        model = ScriptedModel()
        if config.bundled_scenarios:
            model.load_bundled()
        if config.scenarios:
            model.load_dir(config.scenarios)
        if config.scripted:
            model.enqueue(config.scripted)
        return cls(
            config=config,
            base_url=base_url,
            pat=pat,
            client_id=config.client_id or new_client_id(),
            client_secret=config.client_secret or new_client_secret(),
            workspace_id=config.workspace_id or str(secrets.randbelow(9 * 10**15) + 10**15),
            clock=clock,
            tokens=tokens,
            catalog=Catalog(endpoints),
            faults=faults,
            log=RequestLog(),
            token_requests=TokenRequests(),
            scripted_model=model,
        )
