"""Result rows, the machine description, and the tables printed and written to RESULTS.md."""

from __future__ import annotations

import os
import platform
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["CONTENDER_ORDER", "Row", "machine", "median", "render_markdown"]

CONTENDER_ORDER = ("lakecode", "httpx", "openai", "litellm", "databricks-sdk")
"""Column order; ``httpx`` is the bare-client floor, the others are what users would pick."""


@dataclass
class Row:
    """One measure for every contender that took part (lower is better unless ``higher``).

    Attributes:
        section: the benchmark (cold start, per-request overhead, ...).
        measure: what was measured, e.g. "non-streaming, concurrency 8: client CPU / request".
        unit: the unit of the values.
        values: contender -> value (None: could not be measured; ``notes`` says why).
        higher: a larger value is better (throughput).
        note: one line of context.
    """

    section: str
    measure: str
    unit: str
    values: dict[str, float | None] = field(default_factory=dict)
    higher: bool = False
    note: str = ""

    def ratios(self) -> str:
        """``lakecode ÷ alternative`` for each alternative measured (``0.50× openai``)."""
        own = self.values.get("lakecode")
        if own is None:
            return "-"
        parts = []
        for name in _ordered(self.values):
            other = self.values[name]
            if name == "lakecode" or other is None or other == 0:
                continue
            parts.append(f"{own / other:.2f}× {name}")
        return ", ".join(parts) or "-"


def median(values: Iterable[float]) -> float:
    """The median (of at least one value)."""
    return statistics.median(list(values))


def _ordered(values: dict[str, float | None]) -> list[str]:
    known = [c for c in CONTENDER_ORDER if c in values]
    return known + sorted(set(values) - set(known))


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    if unit in ("count", "requests"):
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def machine(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Where the figures come from: CPU model, cores, Python, OS, date, load."""
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = {
        "CPU": cpu,
        "cores": str(os.cpu_count()),
        "Python": f"{platform.python_implementation()} {platform.python_version()}",
        "OS": f"{platform.system()} {platform.release()}",
        "date": datetime.now(tz=UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
    try:
        info["load average at start"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        pass
    info.update(extra or {})
    return info


def _table(rows: Sequence[Row]) -> list[str]:
    contenders: dict[str, float | None] = {}
    for row in rows:
        contenders.update(dict.fromkeys(row.values))
    columns = _ordered(contenders)
    head = ["section", "measure", "unit", *columns, "lakecode ÷ alternative"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        cells = [row.section, row.measure + (f" ({row.note})" if row.note else ""), row.unit]
        cells += [_fmt(row.values.get(c), row.unit) if c in row.values else "" for c in columns]
        cells.append(row.ratios() + (" (higher is better)" if row.higher else ""))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def render_markdown(rows: Sequence[Row], info: dict[str, str], notes: Sequence[str],
                    command: str) -> str:
    """The RESULTS.md document: machine, one table of ratios, notes."""
    out = ["# lakecode benchmarks: side by side with the alternatives", "",
           f"Produced by `{command}` (this file is rewritten by each run).", "",
           "## Machine", ""]
    out += [f"- **{k}**: {v}" for k, v in info.items()]
    out += ["", "## Results", "",
            "Medians of interleaved rounds (contenders alternate, so machine noise hits all of them "
            "alike). Lower is better unless marked. `httpx` is a bare `httpx.AsyncClient` with "
            "hand-written JSON/SSE handling: the floor any client pays.", ""]
    out += _table(rows)
    if notes:
        out += ["", "## Notes", ""]
        out += [f"- {n}" for n in notes]
    return "\n".join(out) + "\n"
