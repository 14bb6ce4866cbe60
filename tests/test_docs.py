"""README.md and docs/: the first screen gets a new user going, and every link resolves."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    return {slug(m) for m in re.findall(r"^#+ (.+)$", text, flags=re.M)}


def test_every_relative_link_and_anchor_resolves() -> None:
    broken = []
    for page in PAGES:
        text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
        for target in LINK.findall(text):
            if re.match(r"[a-z]+:", target):
                continue  # http(s), mailto: not checked offline
            path, _, anchor = target.partition("#")
            file = (page.parent / path).resolve() if path else page
            if not file.exists():
                broken.append(f"{page.name}: {target} (no such file)")
            elif anchor and file.suffix == ".md" and anchor not in anchors(file):
                broken.append(f"{page.name}: {target} (no such heading)")
    assert not broken, "\n".join(broken)


def test_the_readme_opens_with_the_app_and_the_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    first_screen = "\n".join(readme.splitlines()[:45])
    assert "](docs/img/app-standalone-light.png)" in first_screen  # a screenshot of the app
    for command in ("pip install .", "sqlrooms-server", "bash .ci/run", "%sqlrooms start"):
        assert command in first_screen, command
    assert "http://127.0.0.1:4000/app/" in first_screen  # what the run command prints
    assert "pip install 'sqlrooms-jupyter" not in readme  # not on PyPI yet
    assert "ETARGET" not in first_screen
    # Security lives on a page of its own.
    assert "Auth and browser origins" not in readme
    assert "A sandbox for shared servers" not in readme
    assert "(docs/security.md)" in readme


def test_magic_lines_in_the_docs_carry_no_comments() -> None:
    """IPython passes a `# comment` after a line magic to the magic as arguments."""
    for page in PAGES:
        for block in re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S):
            for line in block.splitlines():
                assert not (line.startswith("%") and "#" in line), f"{page.name}: {line}"
