"""The CoreError tree: every message names the bad value and, where there are some, the valid options."""


class CoreError(Exception):
    """Base of every error the engine raises on purpose; pages show its message as it is."""


class ValidationError(CoreError, ValueError):
    """An argument or input value is not acceptable."""


class NotFoundError(CoreError, LookupError):
    """A referenced image, run, job or user does not exist."""


class PermissionDenied(CoreError, PermissionError):
    """The acting user's role does not allow the action."""


class SignInRefused(PermissionDenied):
    """Sign-in refused; `reason_key` is a translation key, `detail` fills it (the page shows it translated)."""

    def __init__(self, reason_key: str, message: str, **detail: object) -> None:
        super().__init__(message)
        self.reason_key = reason_key
        self.detail = detail


class RejectedFile(CoreError):
    """One input file was refused at import; `reason_key` is a translation key, `detail` fills it."""

    def __init__(self, reason_key: str, message: str, **detail: object) -> None:
        super().__init__(message)
        self.reason_key = reason_key
        self.detail = detail


class StorageError(CoreError, OSError):
    """The workspace cannot be written (disk full, read-only) or is damaged."""
