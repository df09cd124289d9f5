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
        kind = {0: "a non-negative integer", 1: "a positive integer"}.get(
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
    repeat = first_repeat(items)
    if repeat is not None:
        item, first, i = repeat
        raise ValueError(
            f"`{name}` must be unique. Received {item!r} more than once, at "
            f"positions {first + offset} and {i + offset}."
        )


def first_repeat(items):
    """`(item, first position, second position)` of the first item listed
    twice, or None when all are distinct."""
    seen = {}
    for i, item in enumerate(items):
        first = seen.setdefault(item, i)
        if first != i:
            return item, first, i
    return None


def check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(
            f"`{name}` must be one of {choices}. Received: {name}={value!r}"
        )
    return value


def width_error(what, width, name, value, remedy):
    """A `ValueError` for vectors `width` wide where `name=value` asks another.

    `what` names the vectors ("The token vectors"), `remedy` says what to
    pass instead.
    """
    return ValueError(f"{what} are {width} wide but {name}={value}. {remedy}")


# The virtual address space of a 64-bit x86 or ARM process (48 bits): no
# process holds more, whatever its machine.
_ADDRESS_SPACE = 2**48


def machine_memory():
    """Bytes this machine could ever give a process: its RAM plus swap.

    Read from `/proc/meminfo` (Linux). Where that is not available (macOS
    grows its swap on demand, Windows), the 48-bit address space of a
    64-bit process.
    """
    sizes = {}
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("MemTotal", "SwapTotal"):
                    sizes[key] = int(value.split()[0]) * 1024
    except (OSError, ValueError, IndexError):
        return _ADDRESS_SPACE
    if "MemTotal" not in sizes:
        return _ADDRESS_SPACE
    return sizes["MemTotal"] + sizes.get("SwapTotal", 0)


def check_fits_memory(what, nbytes, fix):
    """A `ValueError` when `nbytes` exceed what this machine could ever hold.

    The bound is `machine_memory()`: an allocation past it cannot succeed,
    so it is refused before it is tried. `what` describes the allocation
    ("A table of ... rows"), `fix` says which arguments to check.
    """
    limit = machine_memory()
    if nbytes > limit:
        raise ValueError(
            f"{what} needs {nbytes:,} bytes ({nbytes / 2**30:,.1f} GiB), more "
            f"than this machine could ever hold ({limit / 2**30:,.1f} GiB of "
            f"RAM and swap). {fix}"
        )
