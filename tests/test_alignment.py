"""Quadrant rules, worked by hand."""

from __future__ import annotations

import pytest

from keymoments.alignment import quadrant
from keymoments.gearing import PerspectiveImpact


def impact(recoverable: float, gearing: float, significant: bool = True) -> PerspectiveImpact:
    lo, hi = (recoverable * 0.8, recoverable * 1.2) if significant else (-1.0, 1.0)
    return PerspectiveImpact(
        measure="x",
        recoverable=recoverable,
        ci=(min(lo, hi), max(lo, hi)),
        gearing=gearing,
        gearing_ci=(gearing, gearing),
        significant=significant,
        key=gearing >= 1.5 and significant and recoverable > 0,
    )


@pytest.mark.parametrize(
    ("user", "provider", "expected"),
    [
        (impact(1.0, 3.0), impact(2.0, 4.0), "sweet_spot"),
        (impact(1.0, 3.0), impact(0.1, 0.2), "user_only"),
        (impact(0.1, 0.2), impact(2.0, 4.0), "provider_only"),
        (impact(0.1, 0.2), impact(0.2, 0.3), "minor"),
        # opposite, significant, neither trivial: a conflict even when neither is key
        (impact(-0.5, -1.0), impact(2.0, 4.0), "conflict"),
        (impact(-0.3, -0.6), impact(0.4, 0.8), "conflict"),
        # opposite but one side a sliver: not a trade-off worth the name
        (impact(-0.01, -0.04), impact(2.0, 4.0), "provider_only"),
        # opposite but not significant on one side
        (impact(-0.5, -1.0, significant=False), impact(2.0, 4.0), "provider_only"),
        (None, impact(2.0, 4.0), "provider_only"),
    ],
)
def test_quadrants(user, provider, expected) -> None:
    got = quadrant(
        key_user=bool(user and user.key),
        key_provider=bool(provider and provider.key),
        user=user,
        provider=provider,
    )
    assert got == expected
