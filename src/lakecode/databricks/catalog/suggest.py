"""Model-not-found help: the discovered ids closest to an id the workspace does not serve (F25).

A typed id often differs from the endpoint name in predictable ways: the ``databricks-`` prefix
(``gpt-6-astra`` vs ``databricks-gpt-6-astra``), dots versus dashes (``gpt-5.5`` vs
``databricks-gpt-5-5``), case, or a Unity Catalog prefix (``system.ai.<model>``). Ids are
compared in a normalised form that erases exactly those differences; the suggestions are the
original, verbatim ids.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

__all__ = ["normalise_for_match", "suggest_models"]

_SEPARATORS = re.compile(r"[\s._/:]+")
_PREFIXES = ("databricks-", "system-ai-", "model-services-")


def normalise_for_match(model_id: str) -> str:
    """``model_id`` lower-cased, separators turned into dashes, known prefixes removed.

    >>> normalise_for_match("Databricks-GPT-5.5")
    'gpt-5-5'
    """
    text = _SEPARATORS.sub("-", model_id.strip().lower()).strip("-")
    changed = True
    while changed:
        changed = False
        for prefix in _PREFIXES:
            if text.startswith(prefix):
                text = text[len(prefix):]
                changed = True
    return text


def suggest_models(typed: str, candidates: Iterable[str], *, limit: int = 5,
                   cutoff: float = 0.6) -> tuple[str, ...]:
    """The candidate ids closest to ``typed``, best first (at most ``limit``).

    An id equal to ``typed`` after normalisation ranks first, then ids containing it (or
    contained in it), then ids whose normalised form is similar (``difflib`` ratio at least
    ``cutoff``). ``typed`` itself is never suggested.
    """
    want = normalise_for_match(typed)
    if not want:
        return ()
    scored: list[tuple[float, str]] = []
    matcher = difflib.SequenceMatcher(b=want, autojunk=False)
    for candidate in dict.fromkeys(candidates):
        if candidate == typed:
            continue
        norm = normalise_for_match(candidate)
        if not norm:
            continue
        if norm == want:
            score = 2.0
        elif want in norm or norm in want:
            score = 1.0 + len(min(want, norm, key=len)) / max(len(want), len(norm))
            score = min(score, 1.99)
        else:
            matcher.set_seq1(norm)
            if matcher.real_quick_ratio() < cutoff or matcher.quick_ratio() < cutoff:
                continue
            score = matcher.ratio()
            if score < cutoff:
                continue
        scored.append((score, candidate))
    scored.sort(key=lambda item: (-item[0], len(item[1]), item[1]))
    return tuple(candidate for _, candidate in scored[:limit])
