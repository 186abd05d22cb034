"""Did the fix work? Key moments over time, and a change checked against its prediction.

- :func:`monitor`: each moment's break rate and each outcome per week or month
  as SPC charts with Making Data Count's special-cause rules; every change of
  the model (``changes:``) measured by an interrupted time series, set beside
  what the journey model predicts and what its intervention promised, with a
  verdict; the key moments per quarter and the moments that moved;
- the statistics on their own: :func:`p_chart`, :func:`xmr_chart`
  (:mod:`keymoments.monitoring.spc`) and :func:`segmented_regression`
  (:mod:`keymoments.monitoring.its`);
- :func:`simulate_rollout`: a log with a planted change, for trying it out.

Example:
    >>> import keymoments
    >>> ex = simulate_rollout(weeks=30, cases_per_week=300, seed=4)
    >>> result = keymoments.monitor(ex.service, events=ex.events, cases=ex.cases,
    ...                             bootstrap=0)
    >>> [s.id for s in result.moments]
    ['invitation', 'booking', 'appointment', 'results']
    >>> result.changes[0].verdict
    'delivered'
"""

from keymoments.monitoring.changes import ChangeCheck
from keymoments.monitoring.its import Segmented, segmented_regression
from keymoments.monitoring.key import KeyNote, KeyWindow
from keymoments.monitoring.planted import Rollout, simulate_rollout
from keymoments.monitoring.result import MonitorResult
from keymoments.monitoring.run import monitor
from keymoments.monitoring.series import Series
from keymoments.monitoring.spc import ControlChart, p_chart, xmr_chart

__all__ = [
    "ChangeCheck",
    "ControlChart",
    "KeyNote",
    "KeyWindow",
    "MonitorResult",
    "Rollout",
    "Segmented",
    "Series",
    "monitor",
    "p_chart",
    "segmented_regression",
    "simulate_rollout",
    "xmr_chart",
]
