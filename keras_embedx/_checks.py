"""Argument checks shared by the package, in Keras' "Received: ..." style.

NumPy only, so the vector readers and `Vocabulary` use them without Keras.
"""

import numpy as np


def check_int(name, value, low=1):
    """`value` as an int >= `low` (NumPy ints accepted), or a `ValueError`."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, np.integer))
        or value < low
    ):
        kind = {0: "a non-negative int", 1: "a positive int"}.get(
            low, f"an int >= {low}"
        )
        raise ValueError(
            f"`{name}` must be {kind}. Received: {name}={value!r} "
            f"(of type {type(value).__name__})"
        )
    return int(value)


def check_positive_int(name, value, allow_zero=False):
    """`value` as an int >= 1 (or >= 0), or a `ValueError`."""
    return check_int(name, value, low=0 if allow_zero else 1)


def check_bool(name, value):
    """`value` as a bool, or a `ValueError` (a str like "no" is truthy)."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(
            f"`{name}` must be a bool. Received: {name}={value!r} "
            f"(of type {type(value).__name__})"
        )
    return bool(value)


def check_float(name, value):
    """`value` as a float, or a `ValueError` naming the argument."""
    if isinstance(value, bool) or not isinstance(
        value, (int, float, np.integer, np.floating)
    ):
        raise ValueError(
            f"`{name}` must be a number. Received: {name}={value!r} "
            f"(of type {type(value).__name__})"
        )
    return float(value)


def check_unique(name, items, offset=0):
    """A `ValueError` naming the first item listed twice, and both positions.

    `offset` is added to the positions (entries before `items` in a list).
    """
    seen = {}
    for i, item in enumerate(items):
        first = seen.setdefault(item, i)
        if first != i:
            raise ValueError(
                f"`{name}` must be unique. Received {item!r} more than once, at "
                f"positions {first + offset} and {i + offset}."
            )


def check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(
            f"`{name}` must be one of {choices}. Received: {name}={value!r}"
        )
    return value
