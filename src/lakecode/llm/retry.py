"""The one retry layer for model calls: capped exponential backoff, full jitter, a deadline.

What is retried: 429 (``RateLimitError``), 5xx, 408 and 499 (``ServerError``), connection
failures and timeouts (``APIConnectionError``), and a stream that broke off before it yielded
anything (``StreamError``). Never retried: any other 4xx (a 400 is sent exactly once), auth
failures (the auth layer already refreshed and retried once), and anything after a stream has
yielded an event - the caller has already shown it (F22).

The wait before retry ``n`` (1-based) is the server's ``Retry-After`` when it sent one (capped at
``MAX_RETRY_AFTER``), otherwise ``uniform(0, min(MAX_BACKOFF, INITIAL_BACKOFF * 2**(n-1)))``.
No retry starts once ``DEADLINE`` seconds have passed since the first attempt, nor when its wait
would end past the deadline. All waits go through the injected ``Clock``: tests use
``FakeClock`` and never sleep.
"""

from __future__ import annotations

import random
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from dataclasses import dataclass

from lakecode.clock import Clock
from lakecode.errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    RateLimitError,
    ServerError,
    StreamError,
    TLSError,
)
from lakecode.llm.types import RetryNotice, StreamEvent

__all__ = [
    "DEADLINE",
    "INITIAL_BACKOFF",
    "MAX_ATTEMPTS",
    "MAX_BACKOFF",
    "MAX_RETRY_AFTER",
    "RetryPolicy",
    "is_retryable",
    "retrying",
]

MAX_ATTEMPTS = 5
"""Attempts in all (the first try and four retries)."""
INITIAL_BACKOFF = 1.0
"""Seconds: the jitter ceiling of the first retry; doubles on each retry."""
MAX_BACKOFF = 30.0
"""Seconds: the largest jitter ceiling."""
MAX_RETRY_AFTER = 60.0
"""Seconds: a larger ``Retry-After`` is capped to this."""
DEADLINE = 300.0
"""Seconds from the first attempt after which no retry starts (the Databricks SDK's budget)."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Retry limits; the defaults are the module constants."""

    max_attempts: int = MAX_ATTEMPTS
    initial_backoff: float = INITIAL_BACKOFF
    max_backoff: float = MAX_BACKOFF
    max_retry_after: float = MAX_RETRY_AFTER
    deadline: float = DEADLINE

    def delay(self, retry: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds to wait before retry number ``retry`` (1-based)."""
        if retry_after is not None:
            return min(max(0.0, retry_after), self.max_retry_after)
        ceiling = min(self.max_backoff, self.initial_backoff * 2 ** (retry - 1))
        return rng.uniform(0.0, ceiling)


def is_retryable(error: APIError) -> bool:
    """Whether trying ``error``'s request again can help (before anything was yielded)."""
    if isinstance(error, TLSError):
        return False
    return isinstance(error, RateLimitError | ServerError | APIConnectionError | StreamError)


def _give_up(error: APIError, attempts: int) -> None:
    if attempts > 1:
        error.message = f"{error.message} (gave up after {attempts} attempts)"
        error.args = (error.message,)


async def retrying(
    attempt: Callable[[], AsyncGenerator[StreamEvent, None]],
    *,
    clock: Clock,
    policy: RetryPolicy | None = None,
    rng: random.Random | None = None,
) -> AsyncGenerator[StreamEvent, None]:
    """Run ``attempt()`` until it succeeds, retrying per the module docstring.

    Args:
        attempt: makes one attempt: a fresh async generator of events per call.
        clock: the clock to wait on (inject ``FakeClock`` in tests).
        policy: retry limits (defaults: the module constants).
        rng: the jitter source (seed it for deterministic tests).

    Yields:
        The attempt's events, and a ``RetryNotice`` before each retry.

    Raises:
        APIError: the last error, when it is not retryable, something was already yielded,
            or attempts or the deadline ran out (its message then says how many attempts).
    """
    policy = policy or RetryPolicy()
    rng = rng or random.Random()
    start = clock.monotonic()
    attempts = 0
    while True:
        attempts += 1
        yielded = False
        try:
            async with aclosing(attempt()) as events:
                async for event in events:
                    yielded = True
                    yield event
            return
        except APIError as error:
            if yielded or not is_retryable(error) or attempts >= policy.max_attempts:
                _give_up(error, attempts)
                raise
            retry_after = error.retry_after if isinstance(error, APIStatusError) else None
            delay = policy.delay(attempts, retry_after, rng)
            if clock.monotonic() + delay - start > policy.deadline:
                _give_up(error, attempts)
                raise
            yield RetryNotice(attempt=attempts, delay=delay, reason=error.message)
            await clock.sleep(delay)
