"""Where to spend: interventions, what-if and the best portfolio under a budget.

- :func:`what_if`: the exact gain of any set of interventions or a free
  change of break rates, per case, per year and in money;
- :func:`optimise`: the set worth most within the budget, exact on the chain
  (integer programming with HiGHS), with ROI, payback, Monte Carlo
  uncertainty, equity per segment and the user/provider frontier;
- :func:`gearing_curves`: each outcome's gain as a moment's break rate goes to zero.

Example:
    >>> import keymoments
    >>> ex = keymoments.examples.load_health_check(n_cases=2000)
    >>> result = keymoments.analyse(ex.service, events=ex.events, cases=ex.cases, bootstrap=0)
    >>> plan = keymoments.portfolio.optimise(result, uncertainty=False)
    >>> plan.cost <= ex.service.budget
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from keymoments.portfolio.context import PlanContext
from keymoments.portfolio.optimise import optimise
from keymoments.portfolio.results import Plan, Portfolio
from keymoments.portfolio.what_if import WhatIf, what_if

__all__ = ["Plan", "PlanContext", "Portfolio", "WhatIf", "gearing_curves", "optimise", "what_if"]


def gearing_curves(
    result: Any, *, moments: Sequence[str] | None = None, points: int = 11
) -> pd.DataFrame:
    """Gain of each outcome as each moment's break rate goes from today's to zero.

    See :mod:`keymoments.portfolio.curves` for the columns.
    """
    from keymoments.portfolio.curves import gearing_curves as curves

    return curves(PlanContext.of(result), moments=moments, points=points)
