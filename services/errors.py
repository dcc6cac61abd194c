"""Domain errors: their message is Russian and is shown to the user as it is."""


class DomainError(Exception):
    """Base of every error a page may show with st.error."""

    def __init__(self, message: str, details: list[str] | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or []


class NotFound(DomainError):
    pass


class ValidationError(DomainError):
    pass


class AuthError(DomainError):
    pass
