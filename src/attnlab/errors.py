"""The one error type for user mistakes.

Anything a user can get wrong (a bad path, an unknown config key, empty input, a corrupt checkpoint)
raises `UserError` with a one-line message that says what to do. The CLI prints it and exits with
code 2 and no traceback; every other exception is a bug and keeps its traceback.
"""


class UserError(Exception):
    """A mistake the user can fix. `str(err)` is a single line that tells them how."""

    exit_code = 2

    def __init__(self, message: str):
        # One line, always: newlines would break "one-line error" for callers that print it.
        super().__init__(" ".join(str(message).split()))
