"""Bad query strings on dashboard pages: a 400 page that says what was wrong (BadRequestMiddleware renders it)."""
from django.core.exceptions import BadRequest


class InvalidQuery(BadRequest):
    """A page's query parameters did not validate; carries the form's error messages."""

    def __init__(self, form):
        messages = [str(m) for errors in form.errors.values() for m in errors]
        super().__init__(" ".join(messages) or "Invalid query parameters.")
        self.messages = messages
