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


def test_ci_audits_the_dependencies_after_the_tests() -> None:
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    blocks = re.findall(r"```\n(.*?)\n```", (ROOT / "README.md").read_text(), flags=re.S)
    assert ci.index("bash .ci/audit") > ci.index(blocks[1].strip())
    audit = (ROOT / ".ci" / "audit").read_text()
    assert "pip-audit --path" in audit and "--skip-editable" in audit
