"""Old module paths kept for one release: each warns and re-exports its new home."""

import warnings


def moved_module(old, new):
    """Warn that module `old` moved to `new`.

    Called at the top level of the old module, so the warning is raised on
    its first import and points at the line that imported it (Python skips
    the import machinery's own frames).

    Args:
        old: str, the old dotted module path.
        new: str, the new dotted module path.
    """
    warnings.warn(
        f"`{old}` moved to `{new}` (same names); import it from there. The old "
        "path is removed in the next release.",
        DeprecationWarning,
        stacklevel=3,
    )
