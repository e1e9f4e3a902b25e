"""Run the benchmarks and write their Markdown tables.

Usage: ``python -m benchmarks [--quick] [--only NAME ...] [--out FILE]``.
"""

from __future__ import annotations

import argparse
import importlib
import time
from pathlib import Path

from benchmarks._common import machine

NAMES = ("loading", "spectrogram", "training", "inference", "dask", "seed")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--quick", action="store_true", help="fewer repeats, smaller data")
    parser.add_argument("--only", nargs="+", choices=NAMES, default=list(NAMES))
    parser.add_argument("--out", default="benchmarks/RESULTS.md")
    args = parser.parse_args()
    parts = [f"Measured {time.strftime('%Y-%m-%d')} on {machine()}. Medians of repeated runs; "
             "each ratio is against a reference timed in the same run.\n"]
    for name in args.only:
        print(f"running {name} ...", flush=True)
        module = importlib.import_module(f"benchmarks.bench_{name}")
        t0 = time.perf_counter()
        text = module.run(quick=args.quick)
        parts.append(text + f"\n\n({name}: {time.perf_counter() - t0:.0f} s)\n")
        print(text, flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(parts), encoding="utf-8")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
