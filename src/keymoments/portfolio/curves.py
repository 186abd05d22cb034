"""Gearing curves: each outcome's gain as a moment's break rate goes from today's to zero.

The moment's break probability is scaled by factors from 1 (today) to 0
(never breaks) on the exact chain; the x axis is the chain's share of
arrivals that break the moment at each factor.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from keymoments.portfolio.context import PlanContext

__all__ = ["gearing_curves"]


def gearing_curves(
    ctx: PlanContext, *, moments: Sequence[str] | None = None, points: int = 11
) -> pd.DataFrame:
    """One row per (moment, step, outcome): ``factor``, ``break_rate``, ``gain``, ``money``.

    ``moments`` defaults to every breakable moment.
    """
    service = ctx.service
    chain = ctx.chain
    ids = [m.id for m in service.moments]
    wanted = (
        list(moments) if moments is not None else [m.id for m in service.moments if m.breakable]
    )
    steps = np.linspace(1.0, 0.0, points)
    rows = []
    for mid in wanted:
        i = ids.index(mid)
        factors = np.ones((points, chain.n_moments))
        factors[:, i] = steps
        stacked = np.vstack([chain.identity()[None], factors])
        ev = chain.evaluate(stacked)
        share = chain.break_share(factors, i)
        gain = ev.outcomes[1:] - ev.outcomes[0]
        money = ctx.valuation.per_year(ev.priced[1:] - ev.priced[0])
        for s in range(points):
            for k, o in enumerate(service.outcomes):
                rows.append(
                    {
                        "moment": mid,
                        "factor": float(steps[s]),
                        "break_rate": float(share[s]),
                        "outcome": o.id,
                        "gain": float(gain[s, k]),
                        "money": float(money[s, k]),
                    }
                )
    return pd.DataFrame(rows)
