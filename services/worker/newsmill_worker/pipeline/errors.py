"""The error every pipeline step raises for input it cannot turn into an article."""


class DocumentError(Exception):
    """Bad input: the job fails with this one-line reason and is not retried."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
