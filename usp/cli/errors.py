"""The one error type the CLI shows to people: a message and an exit status."""

from __future__ import annotations


class CliError(Exception):
    """Something the user should read: printed as `usp: <message>`, no traceback."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message


class ApiError(CliError):
    """The server answered with an error (its JSON envelope when it sent one)."""

    def __init__(self, message: str, *, status: int, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code
