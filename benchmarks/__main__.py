"""Run the benchmarks and write their Markdown tables.

Usage: ``python -m benchmarks [--quick] [--only NAME ...] [--out FILE]``.

Each benchmark's section of the results file lies between two HTML comments naming
it; a run replaces the sections of the benchmarks it ran and keeps the others.
"""

from __future__ import annotations

import argparse
import importlib
import time
from pathlib import Path

from benchmarks._common import machine

NAMES = ("loading", "spectrogram", "training", "inference", "dask", "seed", "learning_curve",
         "regression", "pretraining", "explain", "store", "musicnn", "calibration", "feeding",
         "distributed", "gpu")

#: What a plain run measures: all but the GPU benchmark, which needs a CUDA GPU.
DEFAULT = tuple(name for name in NAMES if name != "gpu")


def merge_section(text: str, name: str, section: str) -> str:
    """``text`` with the section of benchmark ``name`` replaced, or added after the last one.

    Parameters
    ----------
    text : str
        The results file as it stands.
    name : str
        The benchmark.
    section : str
        Its new Markdown.

    Returns
    -------
    str
    """
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    block = f"{start}\n{section.strip()}\n{end}"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        return head + block + rest.split(end, 1)[1]
    last = text.rfind("<!-- /bench:")
    if last < 0:
        return (text.rstrip() + "\n\n" if text.strip() else "") + block + "\n"
    cut = text.index("-->", last) + 3
    return text[:cut] + "\n\n" + block + text[cut:]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--quick", action="store_true", help="fewer repeats, smaller data")
    parser.add_argument("--only", nargs="+", choices=NAMES, default=list(DEFAULT))
    parser.add_argument("--out", default="benchmarks/RESULTS.md")
    args = parser.parse_args()
    out = Path(args.out)
    text = out.read_text(encoding="utf-8") if out.is_file() else ""
    for name in args.only:
        print(f"running {name} ...", flush=True)
        module = importlib.import_module(f"benchmarks.bench_{name}")
        t0 = time.perf_counter()
        result = module.run(quick=args.quick)
        section = (f"{result}\n\n({name}: {time.perf_counter() - t0:.0f} s; measured "
                   f"{time.strftime('%Y-%m-%d')} on {machine()}"
                   f"{', --quick' if args.quick else ''})")
        print(section, flush=True)
        # read again: another run may have written its own section in the meantime
        text = out.read_text(encoding="utf-8") if out.is_file() else ""
        text = merge_section(text, name, section)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")  # after each, so an interrupted run keeps it
    print(f"written to {out}")


if __name__ == "__main__":
    main()
