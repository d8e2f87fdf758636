"""The provider-neutral LLM layer.

Modules (import from them directly; this package imports nothing, to keep start-up fast):

* ``types`` - messages, tools, requests, usage and the ``StreamEvent``s of a turn;
* ``provider`` - the ``Provider`` protocol the agent and the UIs use;
* ``quirks`` - wire ``Dialect``s, per-model ``ModelQuirks`` and the self-healing ``ModelMemory``;
* ``history`` - ``normalize_history``, the invariants enforced before every send;
* ``serialize`` - ``serialize_request``, one whitelist per dialect;
* ``stream`` (with ``assembly`` and ``responses_stream``) - SSE and JSON responses to events;
* ``retry`` - the one retry policy; ``errors`` - the one error parser;
* ``wire`` - ``ChatTransport``, which ties them together over one ``httpx.AsyncClient``;
* ``openai_compat`` - the generic OpenAI-compatible provider.
"""
