"""The CoreError tree: every message names the bad value and, where there are some, the valid options.

Every error may carry a translation key (`key`) and the values that fill it (`detail`), so the UI shows it in
the user's language; `str(exc)` stays the English message for the CLI, logs and the API.
"""


class CoreError(Exception):
    """Base of every error the engine raises on purpose. `key`/`detail`: the translated form (optional)."""

    def __init__(self, message: str = "", *, key: str | None = None, **detail: object) -> None:
        super().__init__(message)
        self.key = key
        self.detail = detail


class ValidationError(CoreError, ValueError):
    """An argument or input value is not acceptable."""


class NotFoundError(CoreError, LookupError):
    """A referenced image, run, job or user does not exist."""


class PermissionDenied(CoreError, PermissionError):
    """The acting user's role does not allow the action."""


class SignInRefused(PermissionDenied):
    """Sign-in refused; `reason_key` is a translation key, `detail` fills it (the page shows it translated)."""

    def __init__(self, reason_key: str, message: str, **detail: object) -> None:
        super().__init__(message, key=reason_key, **detail)

    @property
    def reason_key(self) -> str:
        return self.key or ""


class RejectedFile(CoreError):
    """One input file was refused at import; `reason_key` is a translation key, `detail` fills it."""

    def __init__(self, reason_key: str, message: str, **detail: object) -> None:
        super().__init__(message, key=reason_key, **detail)

    @property
    def reason_key(self) -> str:
        return self.key or ""


class StorageError(CoreError, OSError):
    """The workspace cannot be written (disk full, read-only) or is damaged."""
