"""Typed, range-checked options: the one way the engine describes and validates settings.

Every configurable part of the engine (a problem, an optimizer, a schedule, a regulariser,
gradient clipping) declares its settings as a tuple of :class:`Option`. The same
declaration validates input, fills defaults and describes the setting to a catalog (the
CLI help, the HTTP API's hyper-parameter schemas), so the rules live in one place.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

OptionValue = float | int | bool
_T = TypeVar("_T")


class SpecError(ValueError):
    """A run request the engine refuses, with a sentence a student understands.

    Parameters
    ----------
    field : str
        Dotted path of the offending setting, e.g. ``"hyper.beta1"`` or ``"learning_rates"``.
    message : str
        What is wrong and, where it helps, what is allowed.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Option:
    """One setting: its name, type, default and the range of valid values.

    Parameters
    ----------
    name : str
        The name users write (torch's argument name where torch has one).
    kind : type
        ``float``, ``int`` or ``bool``.
    default : float, int, bool or None
        ``None`` makes the option required.
    low, high : float or None
        Bounds of the valid range (``None``: unbounded on that side).
    low_open, high_open : bool
        Whether the bound itself is excluded.
    help : str
        One line for catalogs and error messages.
    """

    name: str
    kind: type
    default: OptionValue | None
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    help: str = ""

    @property
    def required(self) -> bool:
        """True when the option has no default and must be given."""
        return self.default is None

    def describe_range(self) -> str:
        """The valid range in interval notation, e.g. ``[0, 1)``; empty for booleans."""
        if self.kind is bool:
            return "true or false"
        left = "(" if self.low_open or self.low is None else "["
        right = ")" if self.high_open or self.high is None else "]"
        low = "-inf" if self.low is None else _short(self.low)
        high = "inf" if self.high is None else _short(self.high)
        return f"{left}{low}, {high}{right}"

    def coerce(self, value: Any, field: str) -> OptionValue:
        """Return ``value`` as this option's type, or raise :class:`SpecError`.

        Booleans accept only ``True``/``False``; integers accept integral numbers;
        floats accept any finite real number but not booleans.
        """
        if self.kind is bool:
            if isinstance(value, bool):
                return value
            raise SpecError(field, f"must be true or false, got {value!r}")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SpecError(field, f"must be a number, got {value!r}")
        if not math.isfinite(value):
            raise SpecError(field, f"must be a finite number, got {value!r}")
        if self.kind is int:
            if float(value) != int(value):
                raise SpecError(field, f"must be a whole number, got {value!r}")
            value = int(value)
        else:
            value = float(value)
        if not self._in_range(value):
            raise SpecError(field, f"must be in {self.describe_range()}, got {_short(value)}")
        return value

    def _in_range(self, value: float) -> bool:
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            return False
        return not (
            self.high is not None and (value > self.high or (self.high_open and value == self.high))
        )

    def describe(self) -> dict[str, Any]:
        """A JSON-ready description: name, type, default, range, help."""
        return {
            "name": self.name,
            "type": self.kind.__name__,
            "default": self.default,
            "range": self.describe_range(),
            "minimum": self.low,
            "maximum": self.high,
            "exclusive_minimum": self.low_open,
            "exclusive_maximum": self.high_open,
            "required": self.required,
            "help": self.help,
        }


def resolve_options(
    field: str, options: Sequence[Option], given: Mapping[str, Any] | None
) -> dict[str, OptionValue]:
    """Validate ``given`` against ``options`` and fill in the defaults.

    Parameters
    ----------
    field : str
        Where these options sit in the request, used to prefix error fields.
    options : sequence of Option
        The declaration.
    given : mapping or None
        What the user wrote.

    Returns
    -------
    dict
        Every declared option, in declaration order, with a value of its type.

    Raises
    ------
    SpecError
        On an unknown name (the known ones are listed), a wrong type, a value out of
        range, or a missing required option.

    Examples
    --------
    >>> opts = (Option("gamma", float, 0.1, low=0, high=1),)
    >>> resolve_options("schedule", opts, {"gamma": 0.5})
    {'gamma': 0.5}
    """
    given = dict(given or {})
    known = {option.name for option in options}
    unknown = sorted(set(given) - known)
    if unknown:
        allowed = ", ".join(option.name for option in options) or "none"
        raise SpecError(
            f"{field}.{unknown[0]}", f"unknown setting {unknown[0]!r}; known settings: {allowed}"
        )
    resolved: dict[str, OptionValue] = {}
    for option in options:
        where = f"{field}.{option.name}"
        if option.name in given and given[option.name] is not None:
            resolved[option.name] = option.coerce(given[option.name], where)
        elif option.required:
            raise SpecError(where, f"is required ({option.help or option.describe_range()})")
        else:
            resolved[option.name] = option.default  # type: ignore[assignment]
    return resolved


def check_name(field: str, what: str, name: Any, known: Collection[str]) -> str:
    """``name`` if it is one of ``known``, else :class:`SpecError` listing them.

    Examples
    --------
    >>> check_name("schedule", "schedule", "zigzag", ["constant", "step"])
    Traceback (most recent call last):
    ...
    grader.engine.options.SpecError: schedule: unknown schedule 'zigzag'; known: constant, step
    """
    if not isinstance(name, str) or name not in known:
        raise SpecError(field, f"unknown {what} {name!r}; known: {', '.join(known)}")
    return name


def lookup(field: str, what: str, catalog: Mapping[str, _T], name: Any) -> _T:
    """The entry of ``catalog`` called ``name``, or :class:`SpecError` listing the names."""
    return catalog[check_name(field, what, name, list(catalog))]


def _short(value: float) -> str:
    """Format a bound or value compactly: 1, 0.5, 1e-08."""
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.6g}"
