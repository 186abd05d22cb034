"""Survey statistics: what drives the experience (drivers, emotion curve) and what stops people.

Example:
    >>> from keymoments.experience import lmg
    >>> import numpy as np
    >>> round(lmg(np.array([[1.0, 0.6], [0.6, 1.0]])).r2, 2)
    0.36
"""

from keymoments.experience.drivers import Drivers, OutcomeDrivers, measure_drivers
from keymoments.experience.emotion import Emotion, PeakEnd, measure_emotion
from keymoments.experience.ratings import RatingSummary, summarise_ratings
from keymoments.experience.shapley import LMGFit, lmg
from keymoments.experience.weights import companion_metrics, relative_weights

__all__ = [
    "Drivers",
    "Emotion",
    "LMGFit",
    "OutcomeDrivers",
    "PeakEnd",
    "RatingSummary",
    "companion_metrics",
    "lmg",
    "measure_drivers",
    "measure_emotion",
    "relative_weights",
    "summarise_ratings",
]
