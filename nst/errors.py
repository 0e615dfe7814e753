"""The one exception type a user ever sees: a clear, one-line message."""


class NstError(Exception):
    """A problem with the user's input or environment.

    The CLI prints ``error: <message>`` and exits with status 2; no traceback.
    """
