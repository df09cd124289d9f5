"""Errors and warnings raised while reading vector files."""


class VectorFileError(ValueError):
    """A vector file is malformed: the message names the file, where and why.

    A `ValueError`, so code that already catches `ValueError` keeps working.

    Attributes:
        path: str or None, the file (for a zip member, `archive.zip/member`).
        line: int or None, the 1-based line (text formats) or row (binary
            formats) where the problem is.
        unit: `"line"` or `"row"`, what `line` counts.
    """

    def __init__(self, message, path=None, line=None, unit="line"):
        self.path = path
        self.line = line
        self.unit = unit
        where = ""
        if path is not None:
            where = str(path)
            if line is not None:
                where += f", {unit} {line}"
            where += ": "
        super().__init__(where + message)


class VectorFileWarning(UserWarning):
    """A vector file loaded, but not verbatim: rows skipped or duplicates dropped."""
