"""Argument checks shared by the package, in Keras' "Received: ..." style.

NumPy only, so the vector readers and `Vocabulary` use them without Keras.
"""

import numpy as np


def check_int(name, value, low=1):
    """`value` as an int >= `low` (NumPy ints accepted), or a `ValueError`."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(
            f"`{name}` must be an int >= {low}. Received: {name}={value!r} "
            f"(of type {type(value).__name__})"
        )
    if value < low:
        raise ValueError(f"`{name}` must be >= {low}. Received: {name}={value}")
    return int(value)


def check_positive_int(name, value, allow_zero=False):
    """Raise a `ValueError` unless `value` is a positive (or zero) int."""
    low = 0 if allow_zero else 1
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, np.integer))
        or value < low
    ):
        kind = "non-negative" if allow_zero else "positive"
        raise ValueError(
            f"`{name}` must be a {kind} int. Received: {name}={value!r} "
            f"(of type {type(value).__name__})"
        )
    return int(value)


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


def check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(
            f"`{name}` must be one of {choices}. Received: {name}={value!r}"
        )
    return value
