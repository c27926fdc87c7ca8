"""What every model of the policy file shares: strict, frozen models and ``when`` conditions.

A policy model refuses unknown keys (a misspelt ``perod_days`` is a problem with its YAML path,
not a silent default) and is immutable once loaded.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["Condition", "Range"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Range(_Strict):
    """A numeric condition on a payload field: ``{at_least: 90}``, ``{below: 5}``."""

    at_least: int | None = None
    below: int | None = None


#: A ``when`` condition: a value the field must equal, a list of allowed values, or a range.
Condition = str | int | bool | list[str | int] | Range
