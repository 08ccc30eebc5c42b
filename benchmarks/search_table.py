"""The search table: every evaluation row of benchmarks/time_to_mig.py as one Markdown table.

    python benchmarks/search_table.py benchmarks/results/cpu_profile_search.jsonl > TABLE.md

One table row per evaluation, grouped by run, in the order the rows were written.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

COLUMNS = (
    "run",
    "settings",
    "steps",
    "images",
    "minutes",
    "cpu min",
    "load",
    "MIG",
    "active",
    "KL per latent",
)


def settings_text(row: dict) -> str:
    settings = {k: v for k, v in row["settings"].items() if k not in ("backend", "subset")}
    text = " ".join(f"{k}={json.dumps(v, separators=(',', ':'))}" for k, v in settings.items())
    backend = row["settings"].get("backend", "numpy")
    ranges = (
        f" ranges={json.dumps(row['factor_ranges'], separators=(',', ':'))}"
        if row.get("factor_ranges")
        else ""
    )
    return f"{backend} {text}{ranges} threads={row.get('threads')}"


def table(rows: list[dict]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in rows:
        kl = " ".join(f"{v:.2f}" for v in r["kl_per_latent"])
        cells = (
            r["name"],
            settings_text(r),
            r["steps"],
            f"{r['images']:,}",
            f"{r['minutes']:.1f}",
            f"{r['cpu_minutes']:.1f}",
            f"{r['load']:.1f}",
            f"{r['mig']:.3f}",
            r["active_units"],
            kl,
        )
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines)


def main() -> None:
    rows = [json.loads(line) for line in Path(sys.argv[1]).read_text().splitlines() if line.strip()]
    order = list(dict.fromkeys(r["name"] for r in rows))
    print(table(sorted(rows, key=lambda r: (order.index(r["name"]), r["steps"]))))


if __name__ == "__main__":
    main()
