"""Compiles the entity extractor to C with mypyc as the package is built (metadata: pyproject.toml).

The entity extractor (every module of ``ingest/extract/``) holds most of an ingest's CPU time; compiled, the
same code extracts an article about 1.4x faster with the same results (docs/benchmarks.md). The sources stay
in the package: they run as plain Python where no C compiler was found (each extension is optional), with
``BROADSHEET_PURE_PYTHON=1`` set at install, or when a source has changed since it was compiled
(``ingest/extract/__init__.py`` checks the digests this build records in ``ingest/extract/_compiled.json``).
"""

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from setuptools import setup
from setuptools.command.build_ext import build_ext

EXTRACTOR = Path("ingest/extract")
# Every module of the package but its __init__: the list ingest.extract.compiled_modules derives the same way
# (its stale-build check fails, with a warning, for any module this build left out).
COMPILED = sorted(str(path) for path in EXTRACTOR.glob("*.py") if path.stem != "__init__")


def extensions() -> list[Any]:  # mypyc's Extension and setuptools' differ in name only
    if os.environ.get("BROADSHEET_PURE_PYTHON"):
        return []
    from mypyc.build import mypycify

    # The build runs in an environment of its own, without the project's dependencies: mypy reads the modules
    # the extractor imports (models' enums, say) as far as it can and reports errors in the extractor only.
    options = ["--ignore-missing-imports", "--follow-imports=silent", "--no-warn-unused-ignores"]
    built = mypycify([*options, *COMPILED], opt_level="3", group_name="broadsheet_extractor")
    for extension in built:
        extension.optional = True  # no compiler: a warning, and the sources run as they are
    return built


class BuildExt(build_ext):
    """Records the digest of each compiled source beside the compiled modules, so that a stale build is
    never run in place of the source it came from."""

    def run(self) -> None:
        super().run()
        if not self.extensions:
            return
        first = Path(COMPILED[0]).stem
        folder = Path(self.get_ext_fullpath(f"ingest.extract.{first}")).parent
        digests = {
            Path(source).stem: hashlib.sha256(Path(source).read_bytes()).hexdigest() for source in COMPILED
        }
        (folder / "_compiled.json").write_text(json.dumps(digests, indent=1) + "\n")


setup(ext_modules=extensions(), cmdclass={"build_ext": BuildExt})
