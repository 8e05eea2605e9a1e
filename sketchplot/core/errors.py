"""The one exception type a user can cause; the CLI turns it into a one-line message."""


class SketchplotError(Exception):
    """A failure caused by input, files, configuration or the machine, not by a bug.

    The message is one line that says what went wrong and where; the CLI prints it as
    ``Error: <message>`` and exits with ``exit_code``. A machine job that stopped where its
    journal can continue is ``resumable``; whoever knows the command line that continues it
    sets ``resume_command``.
    """

    exit_code = 1
    resumable = False
    resume_command: str | None = None
