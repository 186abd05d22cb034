"""The JSON result's schema: its version, and the JSON Schema shipped with the package.

``AnalysisResult.to_dict()`` (and ``keymoments analyse --json``) write
``schema_version``; ``result_schema()`` is the JSON Schema (draft 2020-12) the
document follows, for any validator (``jsonschema``, ``ajv``...).

Example:
    >>> schema = result_schema()
    >>> schema["properties"]["schema_version"]["pattern"], SCHEMA_VERSION
    ('^1\\\\.[0-9]+$', '1.0')
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

__all__ = ["SCHEMA_VERSION", "result_schema"]

#: MAJOR.MINOR: MINOR grows when fields are added, MAJOR when one changes or goes.
SCHEMA_VERSION = "1.0"


def result_schema() -> dict[str, Any]:
    """The JSON Schema of the analysis result (a fresh copy)."""
    text = resources.files(__name__).joinpath("result.schema.json").read_text(encoding="utf-8")
    return json.loads(text)  # type: ignore[no-any-return]
