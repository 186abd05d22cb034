"""Where the user's key moments and the provider's coincide or clash.

Each moment gets one quadrant:

- ``sweet_spot``: key for both perspectives; fixing it pays twice;
- ``conflict``: fixing it helps one side and hurts the other, both effects
  significant (intervals exclude zero), one of them key-sized
  (|gearing| ≥ ``key_gearing``) and the other at least half an average moment
  (|gearing| ≥ 0.5); the dealer's add-on pitch is the textbook case;
- ``user_only`` / ``provider_only``: key for one side only;
- ``minor``: key for neither.

Example:
    >>> quadrant(key_user=True, key_provider=True, user=None, provider=None, threshold=1.5)
    'sweet_spot'
"""

from __future__ import annotations

from typing import Literal

from keymoments.gearing import PerspectiveImpact

__all__ = ["QUADRANTS", "Quadrant", "quadrant"]

Quadrant = Literal["sweet_spot", "user_only", "provider_only", "conflict", "minor"]
QUADRANTS: tuple[Quadrant, ...] = ("sweet_spot", "user_only", "provider_only", "conflict", "minor")
_CONFLICT_OTHER_SIDE = 0.5


def quadrant(
    *,
    key_user: bool,
    key_provider: bool,
    user: PerspectiveImpact | None,
    provider: PerspectiveImpact | None,
    threshold: float,
) -> Quadrant:
    """The quadrant of one moment from its key flags and deciding impacts."""
    if _conflicting(user, provider, threshold):
        return "conflict"
    if key_user and key_provider:
        return "sweet_spot"
    if key_user:
        return "user_only"
    if key_provider:
        return "provider_only"
    return "minor"


def _conflicting(
    user: PerspectiveImpact | None, provider: PerspectiveImpact | None, threshold: float
) -> bool:
    if user is None or provider is None:
        return False
    if not (user.significant and provider.significant):
        return False
    if user.recoverable * provider.recoverable >= 0:
        return False
    big, small = sorted((abs(user.gearing), abs(provider.gearing)), reverse=True)
    return big >= threshold and small >= _CONFLICT_OTHER_SIDE
