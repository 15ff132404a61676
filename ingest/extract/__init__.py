"""People, organisations and places in news text, and what one article says about each.

Two steps, kept apart so that a trained tagger can replace the first without touching the second:

- ``combine.find_names(text)`` finds names. Two readers are combined. The statistical tagger (``tagger``, a
  CRF trained on CoNLL-2003 news, over ``tokens`` and ``features``; ``crf`` calls crfsuite) reads every
  sentence and gives spans with its confidence in each. The rules (``rules``, with the word lists and
  gazetteer of ``lexicon``) read runs of capitalised words and type them by a curated gazetteer
  (``ingest/gazetteer/*.txt``, read once at import), titles and honorifics, known first names,
  organisation or place suffixes and heads, and the words around a name ("the charity X", "the X wind
  farm", "in the X"). Names of events, prizes and instruments ("the World Cup", "the Hubble Space
  Telescope"), nationalities, titles and lone common nouns ("the Sun") are no person, organisation or
  place. In a headline (title case or capitals) and at the start of a sentence a capital letter proves
  nothing. Sure rule evidence wins over the tagger, except where the tagger is sure a gazetteer place is
  a body named after it or part of a longer name; the tagger decides elsewhere; the rules' mere guesses
  count only for names the text establishes.
- ``mentions.find_mentions(draft)`` runs ``find_names`` over an article (``article``) and turns its spans
  into one ``MentionDraft`` per entity: roles (``roles``), partial names linked to full ones
  (``linking``), counts and salience.

Every module of this package is compiled to C by mypyc when the package is built (``setup.py`` compiles
the list ``compiled_modules`` derives, the same way). The compiled modules run only while they match
their sources: where any source has changed since the build (a developer's edit, a checkout), all of
them run from source until the next install, with a warning. Compiled modules of one build call each
other directly, so the two kinds are never mixed.
"""

import hashlib
import importlib
import importlib.machinery
import json
import sys
import warnings
from pathlib import Path

_FOLDER = Path(__file__).parent


def compiled_modules(folder: Path) -> list[str]:
    """The modules mypyc compiles: every module of the package in ``folder`` but its ``__init__``."""
    return sorted(path.stem for path in folder.glob("*.py") if path.stem != "__init__")


COMPILED = compiled_modules(_FOLDER)


def _is_extension(name: str) -> bool:
    spec = importlib.machinery.PathFinder.find_spec(f"{__name__}.{name}", [str(_FOLDER)])
    return spec is not None and isinstance(spec.loader, importlib.machinery.ExtensionFileLoader)


def _build_matches_sources() -> bool:
    try:
        digests = json.loads((_FOLDER / "_compiled.json").read_text())
    except (OSError, ValueError):
        return False
    return all(
        digests.get(name) == hashlib.sha256((_FOLDER / f"{name}.py").read_bytes()).hexdigest()
        for name in COMPILED
    )


def load_sources() -> None:
    """Import ``COMPILED`` from their ``.py`` sources, ahead of any compiled build (and before either is
    imported). Used for a stale build, and by the test that compares the two."""
    global NATIVE
    NATIVE = False
    for name in COMPILED:
        if f"{__name__}.{name}" in sys.modules:
            raise RuntimeError(f"{__name__}.{name} is imported already")
    # The package's finder sees sources only, so each module imports the others' sources too, in any order.
    sources = (importlib.machinery.SourceFileLoader, importlib.machinery.SOURCE_SUFFIXES)
    for folder in __path__:
        sys.path_importer_cache[folder] = importlib.machinery.FileFinder(folder, sources)
    for name in COMPILED:
        importlib.import_module(f"{__name__}.{name}")


def _choose() -> bool:
    """Whether the compiled build is the one to run; loads the sources where a build is there but is not."""
    present = [_is_extension(name) for name in COMPILED]
    if not any(present):
        return False
    if all(present) and _build_matches_sources():
        return True
    warnings.warn(
        f"{__name__}: the compiled {', '.join(COMPILED)} do not match their sources; running the sources "
        "(slower) until `pip install` builds them again",
        RuntimeWarning,
        stacklevel=2,
    )
    load_sources()
    return False


#: Whether the extractor runs compiled (mypyc) rather than from source.
NATIVE = _choose()
