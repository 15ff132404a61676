"""Reading articles in: parsing, entity extraction and bulk ingestion.

The entity extractor (``crf``, ``tagger``, ``entities``) is compiled to C by mypyc when the package is built
(``setup.py``). The compiled modules run only while they match their sources: where any source has changed
since the build (a developer's edit, a checkout), all three run from source until the next install, with a
warning. Compiled modules of one build call each other directly, so the two kinds are never mixed.
"""

import hashlib
import importlib.machinery
import importlib.util
import json
import sys
import warnings
from pathlib import Path

COMPILED = ("crf", "tagger", "entities")  # in import order: each may import those before it
_FOLDER = Path(__file__).parent


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
        qualified = f"{__name__}.{name}"
        if qualified in sys.modules:
            raise RuntimeError(f"{qualified} is imported already")
        spec = importlib.util.spec_from_file_location(qualified, _FOLDER / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[qualified] = module
        spec.loader.exec_module(module)
        setattr(sys.modules[__name__], name, module)


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
