"""Vendor GraphiQL's browser assets into graph/static/graphiql/, so the playground works with no internet.

    python scripts/update_graphiql.py

Takes each pinned package from the npm registry with ``npm pack`` (npm checks the tarball against the
registry's integrity hash), copies the exact files the page loads and the package's licence file into
``<name>@<version>/``, and writes ``manifest.json``: versions, the tarball's integrity, each file's size
and sha256 (tests/test_graphiql.py checks the files against them), and which placeholder of
graph/graphiql.html each file fills. The previous vendored folders are removed first, so an old version
never lingers.

To update: change the versions in ``PINS``, run this, then the tests (the Chromium test proves the page
still renders and runs a query), and commit the folder. A new major version may ship other files or want
the page to load them differently: then graph/graphiql.html changes too. Needs ``npm`` on the PATH and
the registry reachable; nothing here runs when Broadsheet does.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "graph" / "static" / "graphiql"
LICENCE_NAMES = ("LICENSE", "LICENSE.md", "LICENSE.txt", "LICENCE", "license")


class FileEntry(TypedDict):
    sha256: str
    size: int
    source: str  # "<package>@<version>:<path in its tarball>"


@dataclass(frozen=True)
class Pin:
    """One npm package: the files the page loads (path in the tarball -> the page's placeholder)."""

    name: str
    version: str
    files: dict[str, str]
    #: Licence files from other tarballs, for a package that ships none of its own: (spec, path, saved as).
    licences_from: tuple[tuple[str, str, str], ...] = field(default=())

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def folder(self) -> str:
        """``@graphiql/plugin-explorer@1.0.2`` -> ``graphiql-plugin-explorer@1.0.2``: one level, versioned."""
        return f"{self.name.removeprefix('@').replace('/', '-')}@{self.version}"


# The versions Strawberry's own GraphiQL page loads from a CDN (strawberry/static/graphiql.html), less
# js-cookie, which only reads Django's CSRF cookie.
PINS = (
    Pin("react", "18.2.0", {"umd/react.production.min.js": "react"}),
    Pin("react-dom", "18.2.0", {"umd/react-dom.production.min.js": "react_dom"}),
    Pin("graphiql", "3.8.3", {"graphiql.min.js": "graphiql_js", "graphiql.min.css": "graphiql_css"}),
    Pin(
        "@graphiql/plugin-explorer",
        "1.0.2",
        {"dist/index.umd.js": "explorer_js", "dist/style.css": "explorer_css"},
        # Its tarball has no licence file: it is MIT under the graphql/graphiql repository's licence (the
        # one the graphiql package ships), and its UMD build bundles graphiql-explorer (MIT, OneGraph).
        licences_from=(
            ("graphiql@3.8.3", "LICENSE", "LICENSE"),
            ("graphiql-explorer@0.9.0", "LICENSE", "LICENSE.graphiql-explorer"),
        ),
    ),
)


def npm_pack(spec: str, into: Path) -> tuple[Path, str]:
    """The package's tarball from the registry, and its integrity as the registry states it."""
    result = subprocess.run(
        ["npm", "pack", spec, "--json", "--pack-destination", str(into)],
        capture_output=True,
        text=True,
        check=True,
    )
    packed = json.loads(result.stdout)[0]
    return into / packed["filename"], packed["integrity"]


def read_member(tarball: Path, path: str) -> bytes:
    """One file of a tarball, by its path under ``package/``; nothing else is extracted."""
    with tarfile.open(tarball) as archive:
        member = archive.getmember(f"package/{path}")
        extracted = archive.extractfile(member) if member.isfile() else None
        if extracted is None:
            raise SystemExit(f"{tarball.name}: package/{path} is not a regular file")
        return extracted.read()


def own_licence(tarball: Path) -> str | None:
    with tarfile.open(tarball) as archive:
        names = set(archive.getnames())
    return next((name for name in LICENCE_NAMES if f"package/{name}" in names), None)


def main() -> None:
    files: dict[str, FileEntry] = {}
    packages: list[dict[str, object]] = []
    page: dict[str, str] = {}

    def save(relative: str, content: bytes, origin: str) -> None:
        path = TARGET / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        files[relative] = {
            "sha256": hashlib.sha256(content).hexdigest(),
            "size": len(content),
            "source": origin,
        }

    with tempfile.TemporaryDirectory() as scratch:
        tarballs: dict[str, tuple[Path, str]] = {}

        def tarball(spec: str) -> Path:
            if spec not in tarballs:
                tarballs[spec] = npm_pack(spec, Path(scratch))
            return tarballs[spec][0]

        for pin in PINS:
            tarball(pin.spec)
        for extra in {spec for pin in PINS for spec, _path, _saved in pin.licences_from}:
            tarball(extra)

        for child in TARGET.iterdir() if TARGET.exists() else ():
            if child.is_dir():
                shutil.rmtree(child)
        for pin in PINS:
            for path, placeholder in pin.files.items():
                relative = f"{pin.folder}/{Path(path).name}"
                save(relative, read_member(tarball(pin.spec), path), f"{pin.spec}:{path}")
                page[placeholder] = relative
            licence = own_licence(tarball(pin.spec))
            if licence is None and not pin.licences_from:
                raise SystemExit(f"{pin.spec} ships no licence file: name one in its Pin.licences_from")
            if licence is not None:
                content = read_member(tarball(pin.spec), licence)
                save(f"{pin.folder}/{licence}", content, f"{pin.spec}:{licence}")
            for spec, path, saved_as in pin.licences_from:
                save(f"{pin.folder}/{saved_as}", read_member(tarball(spec), path), f"{spec}:{path}")
            packages.append(
                {
                    "name": pin.name,
                    "version": pin.version,
                    "folder": pin.folder,
                    "tarball_integrity": tarballs[pin.spec][1],
                }
            )

    manifest = {
        "about": "Written by scripts/update_graphiql.py; edit PINS there and run it, never these files.",
        "packages": packages,
        "page": page,
        "files": dict(sorted(files.items())),
    }
    (TARGET / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    total = sum(entry["size"] for entry in files.values())
    print(f"{len(files)} files, {total:,} bytes, in {TARGET.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
