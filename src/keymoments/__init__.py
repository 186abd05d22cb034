"""keymoments: find the key moments of a service.

Example:
    >>> import keymoments
    >>> ex = keymoments.examples.load_health_check(n_cases=2000)
    >>> result = keymoments.analyse(ex.service, events=ex.events, cases=ex.cases, bootstrap=20)
    >>> result.key_moments("user")
    ['appointment']
"""

from typing import TYPE_CHECKING, Any

from keymoments import examples, portfolio
from keymoments.analysis import analyse
from keymoments.draft import ModelDraft, draft_model
from keymoments.errors import (
    DataError,
    DataWarning,
    EngineError,
    KeymomentsError,
    KeymomentsWarning,
    ModelError,
    NotFittedError,
    StatisticsWarning,
)
from keymoments.model import Service, load_service, parse_service
from keymoments.portfolio import Portfolio, WhatIf, optimise, what_if
from keymoments.result import AnalysisResult, MomentResult

if TYPE_CHECKING:
    from keymoments import monitoring
    from keymoments.monitoring import MonitorResult, monitor
    from keymoments.themes import CommentResults, code_comments

# The monitor (statsmodels-like time series on scipy.stats) and the comments (scikit-learn,
# VADER) are loaded when first used: every command would otherwise pay over a second of
# imports for them, analyse included.
_LAZY = {
    "monitoring": ("keymoments.monitoring", None),
    "MonitorResult": ("keymoments.monitoring", "MonitorResult"),
    "monitor": ("keymoments.monitoring", "monitor"),
    "CommentResults": ("keymoments.themes", "CommentResults"),
    "code_comments": ("keymoments.themes", "code_comments"),
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'keymoments' has no attribute {name!r}")
    import importlib

    module_name, attribute = _LAZY[name]
    module = importlib.import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value
    return value


__version__ = "0.1.0"

__all__ = [
    "AnalysisResult",
    "CommentResults",
    "DataError",
    "DataWarning",
    "EngineError",
    "KeymomentsError",
    "KeymomentsWarning",
    "ModelDraft",
    "ModelError",
    "MomentResult",
    "MonitorResult",
    "NotFittedError",
    "Portfolio",
    "Service",
    "StatisticsWarning",
    "WhatIf",
    "__version__",
    "analyse",
    "code_comments",
    "draft_model",
    "examples",
    "load_service",
    "monitor",
    "monitoring",
    "optimise",
    "parse_service",
    "portfolio",
    "what_if",
]
