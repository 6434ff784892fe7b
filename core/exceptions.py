"""Domain exceptions every app may raise from its services; the API layer maps them to responses."""


class StateConflict(Exception):  # noqa: N818 - a domain outcome named for what it is, like Django's Http404
    """The object is not in a state that allows this step, or another request changed it first (HTTP 409)."""

    def __init__(self, message: str, *, code: str = "wrong_state") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
