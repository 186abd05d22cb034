"""The public API is exactly what ``keymoments.__all__`` says, sorted."""

from __future__ import annotations

import keymoments


def test_all_is_sorted_and_complete() -> None:
    assert keymoments.__all__ == sorted(keymoments.__all__)
    public = {
        name
        for name, value in vars(keymoments).items()
        if not name.startswith("_") and getattr(value, "__module__", "").startswith("keymoments")
    }
    assert public <= set(keymoments.__all__) | {"errors", "model", "result", "analysis"}
    for name in keymoments.__all__:
        assert hasattr(keymoments, name), name


def test_errors_inherit_builtins() -> None:
    assert issubclass(keymoments.DataError, ValueError)
    assert issubclass(keymoments.ModelError, ValueError)
    assert issubclass(keymoments.NotFittedError, AttributeError)
    assert issubclass(keymoments.EngineError, RuntimeError)
    for name in ("DataError", "ModelError", "EngineError", "NotFittedError"):
        assert issubclass(getattr(keymoments, name), keymoments.KeymomentsError)
