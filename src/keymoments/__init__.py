"""keymoments: find the key moments of a service.

Example:
    >>> import keymoments
    >>> ex = keymoments.examples.load_health_check(n_cases=2000)
    >>> result = keymoments.analyse(ex.service, events=ex.events, cases=ex.cases, bootstrap=20)
    >>> result.key_moments("user")
    ['appointment']
"""

from keymoments import examples, monitoring, portfolio
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
from keymoments.monitoring import MonitorResult, monitor
from keymoments.portfolio import Portfolio, WhatIf, optimise, what_if
from keymoments.result import AnalysisResult, MomentResult
from keymoments.themes import CommentResults, code_comments

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
