"""Domain errors raised by services and validators; the API layer maps them to HTTP responses."""
from dataclasses import dataclass, field


@dataclass(frozen=True)
class FieldError:
    """One problem with one input field (and, for repeated fields, which item)."""

    field: str
    code: str
    detail: str
    index: int | None = None

    def as_dict(self) -> dict:
        body = {"field": self.field, "code": self.code, "detail": self.detail}
        if self.index is not None:
            body["index"] = self.index
        return body


class ApplicationError(Exception):
    """A request the domain refuses. `code` is stable and machine-readable; `detail` is for people."""

    status_code = 400

    def __init__(self, detail: str, *, code: str, status_code: int | None = None):
        super().__init__(detail)
        self.detail = detail
        self.code = code
        if status_code is not None:
            self.status_code = status_code


@dataclass
class InputInvalid(Exception):
    """Input failed validation; carries every field problem found, so clients can fix all at once."""

    errors: list[FieldError] = field(default_factory=list)

    def __str__(self) -> str:
        return "; ".join(f"{e.field}: {e.detail}" for e in self.errors)
