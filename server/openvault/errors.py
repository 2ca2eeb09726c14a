"""Exceptions that map to Vault's error responses, and the one place they render."""


class VaultError(Exception):
    """An error the client caused; rendered as {"errors": [message]}."""

    status = 400

    def __init__(self, message="", *, errors=None):
        super().__init__(message)
        self.errors = errors if errors is not None else ([message] if message else [])


class BadRequest(VaultError):
    """Invalid input: a field is missing, malformed or not allowed."""

    status = 400


class PermissionDenied(VaultError):
    """Missing, unknown or insufficient token."""

    status = 403

    def __init__(self, message="permission denied"):
        super().__init__(message)


class NotFound(VaultError):
    """Unknown object; Vault answers a read of a missing object with no message."""

    status = 404

    def __init__(self, message=""):
        super().__init__(message)


class UnsupportedPath(NotFound):
    """No handler serves this path."""

    def __init__(self):
        super().__init__(multierror("unsupported path"))


class MethodNotAllowed(VaultError):
    """The path exists but does not support the operation."""

    status = 405


class PayloadTooLarge(VaultError):
    """The request body is larger than the server accepts."""

    status = 413


class UnsupportedMediaType(VaultError):
    """The body's Content-Type does not fit the method (PATCH needs merge-patch)."""

    status = 415


class Unavailable(VaultError):
    """The server cannot serve requests yet (not initialized)."""

    status = 503


def multierror(message):
    """Format a message the way Vault wraps errors from its request pipeline."""
    return f"1 error occurred:\n\t* {message}\n\n"
