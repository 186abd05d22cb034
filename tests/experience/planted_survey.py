"""Generated surveys with planted truth, shared by the experience tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from keymoments.data.engine import connect
from keymoments.experience.ratings import RatingSummary, summarise_ratings
from keymoments.model import Service


def service_for(k: int, *, segments: bool = False) -> Service:
    return Service.model_validate(
        {
            "version": 1,
            "name": "planted survey",
            "moments": [{"id": f"m{j}", "rating": f"r{j}"} for j in range(k)],
            "outcomes": [{"id": "overall", "perspective": "user", "column": "y"}],
            "segments": ["group"] if segments else [],
        }
    )


def summarise(frame: pd.DataFrame, service: Service) -> RatingSummary:
    eng = connect()
    return summarise_ratings(eng.from_arrow(frame), service, eng)


def population(k: int, seed: int) -> tuple[np.ndarray, np.ndarray, float]:
    """A covariance of k ratings, their weights in y, and the noise variance."""
    rng = np.random.default_rng(seed)
    loadings = rng.uniform(0.2, 0.7, size=k)
    cov = np.outer(loadings, loadings)
    np.fill_diagonal(cov, 1.0)
    beta = rng.uniform(0.0, 0.6, size=k)
    beta[rng.choice(k, size=k // 4, replace=False)] = 0.0
    return cov, beta, 1.0


def population_corr(cov: np.ndarray, beta: np.ndarray, noise: float) -> np.ndarray:
    """The exact correlation matrix of (x, y) with y = x·beta + e."""
    k = len(beta)
    full = np.empty((k + 1, k + 1))
    full[:k, :k] = cov
    full[:k, k] = full[k, :k] = cov @ beta
    full[k, k] = beta @ cov @ beta + noise
    d = np.sqrt(np.diag(full))
    return full / np.outer(d, d)


def draw(cov: np.ndarray, beta: np.ndarray, noise: float, n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.multivariate_normal(np.zeros(len(beta)), cov, size=n)
    y = x @ beta + rng.normal(0.0, np.sqrt(noise), size=n)
    frame = pd.DataFrame(x, columns=[f"r{j}" for j in range(len(beta))])
    frame["y"] = y
    return frame
