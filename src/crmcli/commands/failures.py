"""Exceptions -> the one-line error, its exit code and hint (DESIGN.md's exit codes).

Shared by the CLI (crmcli.cli's CrmGroup) and the hot commands run without it
(crmcli.launch); free of typer.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from crmcli.core.errors import EXIT_FAILURE, EXIT_USAGE, CrmError

# An error turned into what is printed and returned: (message, exit code, hint).
Failure = tuple[str, int, str | None]


def _crm_error(exc: CrmError) -> Failure:
    return exc.message, exc.exit_code, exc.hint


def _overflow_error(exc: OverflowError) -> Failure:
    # e.g. an id beyond SQLite's 64-bit integers: the input is invalid, not the CRM.
    return f"number out of range: {exc}", EXIT_USAGE, None


def _unicode_encode_error(exc: UnicodeEncodeError) -> Failure:
    # Bytes that are not UTF-8 in an argument (Python keeps them as surrogates).
    return (
        f"an argument is not valid UTF-8 text ({exc.reason} at position {exc.start})",
        EXIT_USAGE,
        None,
    )


def _recursion_error(exc: RecursionError) -> Failure:
    return "the input is nested too deeply", EXIT_USAGE, None


def _os_error(exc: OSError) -> Failure:
    from crmcli.core.files import describe

    mapped_os = describe(exc, exc.filename, "use")
    return mapped_os.message, mapped_os.exit_code, None


def _unexpected_error(exc: Exception) -> Failure:
    from crmcli.db import backend_error

    mapped = backend_error(exc)
    if mapped is not None:
        return mapped.message, mapped.exit_code, mapped.hint
    return (
        f"unexpected {type(exc).__name__}: {exc}",
        EXIT_FAILURE,
        "set CRM_DEBUG=1 for a traceback",
    )


# Checked in order, first match wins (BrokenPipeError, an OSError, is handled before
# these by the callers); anything else goes to _unexpected_error.
_ERROR_LINES: tuple[tuple[type[Exception], Callable[[Any], Failure]], ...] = (
    (CrmError, _crm_error),
    (OverflowError, _overflow_error),
    (UnicodeEncodeError, _unicode_encode_error),
    (RecursionError, _recursion_error),
    (OSError, _os_error),
)


def error_line(exc: Exception) -> Failure | None:
    """The one-line error for exc, or None with CRM_DEBUG set (the exception propagates,
    for its traceback)."""
    if os.environ.get("CRM_DEBUG"):
        return None
    for kind, handler in _ERROR_LINES:
        if isinstance(exc, kind):
            return handler(exc)
    return _unexpected_error(exc)


def write_failure(failure: Failure) -> int:
    """Print the error (and its hint) on stderr; the exit code."""
    import sys

    message, code, hint = failure
    sys.stderr.write(f"Error: {message}\n")
    if hint:
        sys.stderr.write(f"Hint: {hint}\n")
    return code
