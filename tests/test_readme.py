"""The README's two set-up commands stay true: CI runs the test command exactly as the README shows it."""

from __future__ import annotations

import re

from tests.conftest import ROOT


def _commands() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Set-up on a fresh machine", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", section)


def test_readme_has_exactly_two_setup_commands() -> None:
    run, test = _commands()
    assert "broadsheet migrate" in run and "broadsheet ingest ingest/samples" in run and run.endswith("serve")
    assert "../shared/seed" in run  # the seed article is served too, where ../shared is beside the clone
    assert test.endswith("pytest")


def test_ci_runs_the_readme_test_command() -> None:
    _, test = _commands()
    assert f"({test})" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
