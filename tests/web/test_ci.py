"""CI runs the README's test command word for word (it installs chromium first)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_ci_runs_the_readmes_second_command() -> None:
    blocks = re.findall(r"```\n(.*?)\n```", (ROOT / "README.md").read_text(), flags=re.S)
    second = blocks[1].strip()
    assert "apt-get install -y -qq chromium" in second
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert second in ci
