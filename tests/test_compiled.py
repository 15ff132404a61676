"""The extractor compiled by mypyc (setup.py) finds exactly what its sources find."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import ingest.extract
from tests.shared import shared_path

ROOT = Path(__file__).resolve().parents[1]
ARTICLES = 8  # the samples and the seed

# Run in a fresh interpreter, so that the sources can be imported before anything imports the build.
EXTRACT = """
import importlib, json, sys
import ingest.extract
if sys.argv[1] == "sources":
    ingest.extract.load_sources()
from pathlib import Path
from ingest.extract import mentions, tagger
from tests.shared import iter_drafts

drafts = [d for d in iter_drafts([Path(p) for p in sys.argv[3:]]) if not isinstance(d, Exception)]
conll = [line.split(" ")[0] for line in Path(sys.argv[2]).read_text().splitlines()[:20000]]
text = "\\n".join(" ".join(conll[i : i + 40]) for i in range(0, len(conll), 40))
print(json.dumps({
    "native": ingest.extract.NATIVE,
    "files": [importlib.import_module("ingest.extract." + name).__file__ for name in ingest.extract.COMPILED],
    "mentions": [repr(mentions.find_mentions(draft)) for draft in drafts],
    "scored": tagger.default_tagger().scored(text),
}))
"""


def _extract(which: str, conll: Path, *articles: Path) -> Any:
    command = [sys.executable, "-c", EXTRACT, which, str(conll), *map(str, articles)]
    env = {**os.environ, "PYTHONHASHSEED": "0"}  # sets (surface forms) in the same order in both runs
    return json.loads(
        subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout
    )


def _require_build() -> None:
    if not ingest.extract.NATIVE:
        reason = "the extractor is not compiled here (no C compiler at install, or BROADSHEET_PURE_PYTHON)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)


def test_compiled_extractor_matches_its_sources() -> None:
    _require_build()
    conll = shared_path("data", "conll2003", "eng.testa")
    articles = (ROOT / "ingest" / "samples", shared_path("seed"))
    compiled = _extract("compiled", conll, *articles)
    sources = _extract("sources", conll, *articles)
    assert len(compiled["files"]) == len(ingest.extract.COMPILED) > 1
    assert compiled["native"] and not any(name.endswith(".py") for name in compiled["files"])
    assert not sources["native"] and all(name.endswith(".py") for name in sources["files"])
    assert len(compiled["mentions"]) == ARTICLES
    assert len(compiled["scored"]) > 1000
    assert compiled["mentions"] == sources["mentions"]
    assert compiled["scored"] == sources["scored"]


CHECK = (
    "import importlib, ingest.extract as x; "
    "print(x.NATIVE, *(importlib.import_module('ingest.extract.' + name).__file__ for name in x.COMPILED))"
)


def test_a_stale_build_is_not_run(tmp_path: Path) -> None:
    """A source edited since the build: all compiled modules run from source, with a warning; never a mix."""
    _require_build()
    package = tmp_path / "ingest"
    shutil.copytree(
        ROOT / "ingest", package, ignore=shutil.ignore_patterns("__pycache__", "models", "samples")
    )
    source = package / "extract" / "tagger.py"
    source.write_text(source.read_text() + "\n# edited\n")
    result = subprocess.run(
        [sys.executable, "-c", CHECK],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
        check=True,
    )
    native, *files = result.stdout.split()
    assert native == "False"
    assert files == [str(package / "extract" / f"{name}.py") for name in ingest.extract.COMPILED]
    assert "do not match their sources" in result.stderr
