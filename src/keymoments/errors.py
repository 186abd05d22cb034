"""The exceptions and warnings keymoments raises.

One root, :class:`KeymomentsError`; every family also inherits a built-in so a
plain ``except ValueError`` keeps working. Messages say what failed, the value
seen and what to do next. The command line turns any ``KeymomentsError`` into
its message and exit status 2; the web app turns it into a 4xx response.

Example:
    >>> from keymoments.errors import DataError, KeymomentsError
    >>> try:
    ...     raise DataError("events.csv, row 3: no case id; give every event a case id")
    ... except KeymomentsError as exc:
    ...     print(exc)
    events.csv, row 3: no case id; give every event a case id
"""

from __future__ import annotations

__all__ = [
    "DataError",
    "DataWarning",
    "EngineError",
    "KeymomentsError",
    "KeymomentsWarning",
    "MissingRatingsWarning",
    "ModelCheckWarning",
    "ModelError",
    "NotFittedError",
    "SolverWarning",
    "StatisticsWarning",
]


class KeymomentsError(Exception):
    """Root of every error keymoments raises on purpose."""


class ModelError(KeymomentsError, ValueError):
    """The service-model file (or the objects built from it) is not valid.

    ``file``, ``line`` and ``field`` say where, when known.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.file = file
        self.line = line
        self.field = field
        self.reason = message
        where = ", ".join(
            part
            for part in (
                file,
                f"line {line}" if line is not None else None,
                f"field {field}" if field else None,
            )
            if part
        )
        super().__init__(f"{where}: {message}" if where else message)


class DataError(KeymomentsError, ValueError):
    """An events or cases file cannot be used as it is."""


class EngineError(KeymomentsError, RuntimeError):
    """The query engine is missing or failed (e.g. Spark not installed)."""


class NotFittedError(KeymomentsError, AttributeError):
    """A fitted attribute was read before ``fit()`` was called."""


class KeymomentsWarning(UserWarning):
    """Root of the warnings keymoments shows the user."""


class DataWarning(KeymomentsWarning):
    """Something in the data deserves a look but does not stop the analysis."""


class StatisticsWarning(KeymomentsWarning):
    """Too few cases, no variation, or another reason to read a figure with care."""


class SolverWarning(KeymomentsWarning):
    """An optimisation stopped at its time limit: the answer is the best found, not proven."""


class ModelCheckWarning(StatisticsWarning):
    """The journey model does not reproduce what happened in some group of cases.

    Names the group (a segment, or the cases that broke a moment earlier), the
    observed value and the model's; see ``model_check`` in the result.
    """


class MissingRatingsWarning(StatisticsWarning):
    """Some survey ratings are missing; says how many and how the drivers deal with them.

    Expected whenever not every respondent reaches (or rates) every moment,
    as in both built-in examples.
    """
