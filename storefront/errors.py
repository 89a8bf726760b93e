"""The one error type services raise. Views, the API and admin turn it into messages."""

from __future__ import annotations


class ApplicationError(Exception):
    """A business rule refused the operation. ``code`` is stable (clients may match on it);
    ``message`` is shown to the user; ``fields`` maps form/API fields to their messages."""

    code = "application_error"

    def __init__(
        self, message: str, *, code: str | None = None, fields: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.fields = fields or {}

    def as_dict(self) -> dict:
        return {"code": self.code, "message": self.message, "fields": self.fields}
