"""Why a request could not be authenticated. The messages are shown to API clients."""


class ApiTokenRejected(Exception):
    """The bearer token is unknown, revoked, expired or belongs to an inactive account."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
