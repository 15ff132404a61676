"""Entity benchmark: eng.testa scores and extraction speed of ``ingest.extract.combine:find_names``.

Scores come from ``../shared/tools/conll_score.py`` (run as a subprocess, ``--json``), entity level, per
type, against the issue's targets. Speed is measured in this process: CPU time (one core) to extract
from every eng.testa document's text, best of three, in CoNLL tokens per second. Peak RSS is this
process's (``resource.getrusage``), which loads the model and tags eng.testa four times.

The speed is of the extractor as installed: compiled by mypyc (``setup.py``) where the install could, or from
its sources; ``--from-source`` times the sources either way, for comparison.

Usage, from the repository root: ``python bench/entities.py [--data PATH] [--runs N] [--from-source]``.
Exits non-zero only if something crashes; a missed target is reported, not an error.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SCORER = SHARED / "tools" / "conll_score.py"
DATA = SHARED / "data" / "conll2003" / "eng.testa"
EXTRACTOR = "ingest.extract.combine:find_names"
TARGETS = {"PER": 0.92, "LOC": 0.90, "ORG": 0.85}
SPEED_TARGET = 50_000  # tokens per second
RSS_TARGET_MB = 300


def scores(data: Path) -> dict[str, dict[str, float]]:
    command = [sys.executable, str(SCORER), "--json", "--extractor", EXTRACTOR, str(data)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(result.stdout)["scores"]


def _scorer() -> ModuleType:
    spec = importlib.util.spec_from_file_location("conll_score", SCORER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["conll_score"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def speed(data: Path, runs: int, from_source: bool) -> tuple[float, int, bool]:
    """Best tokens/s (CPU time) over ``runs`` passes of ``find_names`` over every document, the token count,
    and whether the extractor ran compiled."""
    sys.path.insert(0, str(ROOT))
    import ingest.extract

    if from_source:
        ingest.extract.load_sources()
    from ingest.extract.combine import find_names

    docs = _scorer().read_documents(str(data))
    tokens = sum(doc.tokens for doc in docs)
    find_names("Warm-up: load the model and the word lists.")
    best = float("inf")
    for _ in range(runs):
        started = time.process_time()
        for doc in docs:
            find_names(doc.text)
        best = min(best, time.process_time() - started)
    return tokens / best, tokens, ingest.extract.NATIVE


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA, help="a CoNLL-2003 file (default eng.testa)")
    parser.add_argument("--runs", type=int, default=3, help="timed passes; the best counts (3)")
    parser.add_argument("--from-source", action="store_true", help="time the sources, not the compiled build")
    args = parser.parse_args()

    table = scores(args.data)
    print(f"Entity scores on {args.data.name} ({EXTRACTOR}, conll_score.py, entity level)\n")
    print(f"| {'type':<4} | precision | recall |   F1   | target | met? |")
    print("| ---- | --------- | ------ | ------ | ------ | ---- |")
    for kind in ("PER", "ORG", "LOC", "ALL"):
        s = table[kind]
        target = TARGETS.get(kind)
        goal = f"{target:.2f}" if target else "-"
        met = ("yes" if s["f1"] >= target else "NO") if target else "-"
        print(
            f"| {kind:<4} | {s['precision']:>9.4f} | {s['recall']:>6.4f} | {s['f1']:.4f} "
            f"| {goal:>6} | {met:>4} |"
        )

    per_second, tokens, compiled = speed(args.data, args.runs, args.from_source)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux
    print()
    print(
        f"Extraction speed ({'compiled by mypyc' if compiled else 'from source'}): "
        f"{per_second:,.0f} tokens/s (CPU time, one core, best of {args.runs} passes over "
        f"{tokens:,} tokens; target {SPEED_TARGET:,}: {'met' if per_second >= SPEED_TARGET else 'NOT met'})"
    )
    print(
        f"Peak RSS of the extractor process: {rss_mb:.1f} MB "
        f"(target < {RSS_TARGET_MB} MB: {'met' if rss_mb < RSS_TARGET_MB else 'NOT met'})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
