"""Domain exceptions, raised by the layers below the CLI and mapped to exit codes in cli.py.

Exit codes (DESIGN.md): 0 ok; 1 operational failure; 2 usage or invalid input;
3 not found; 4 conflict (duplicate key, illegal state transition). "Not enough data" for a
report or a model (`NotEnoughData`) is an operational failure: exit 1.
"""

from __future__ import annotations


class CrmError(Exception):
    """Base class: a failure a user can cause or an operator must see, never a traceback."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class OperationalError(CrmError):
    """The command could not be carried out (I/O, a failed check, a locked file)."""

    exit_code = 1


class InvalidInput(CrmError):
    """Bad option value, malformed file or expression."""

    exit_code = 2


class NotFound(CrmError):
    """A referenced record does not exist."""

    exit_code = 3


class NotEnoughData(CrmError):
    """Too little history for a report section or a model to say anything (exit 1).

    The message always starts with "not enough data: " so that scripts and people read one
    wording across `report comm --forecast`, `report value`, `campaign suggest`,
    `ticket classify` and the rest.
    """

    exit_code = 1
    PREFIX = "not enough data: "

    def __init__(self, message: str, hint: str | None = None) -> None:
        if not message.startswith(self.PREFIX):
            message = self.PREFIX + message
        super().__init__(message, hint)


class Conflict(CrmError):
    """Duplicate key or illegal state transition."""

    exit_code = 4


EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_CONFLICT = 4
