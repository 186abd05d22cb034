"""keymoments: find the key moments of a service."""

from keymoments.errors import (
    DataError,
    EngineError,
    KeymomentsError,
    ModelError,
)
from keymoments.model import Service, load_service

__version__ = "0.1.0"

__all__ = [
    "DataError",
    "EngineError",
    "KeymomentsError",
    "ModelError",
    "Service",
    "__version__",
    "load_service",
]
