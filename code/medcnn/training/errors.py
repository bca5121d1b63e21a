"""The error training raises when a run cannot go on (for example a loss that became NaN).

Example:
    >>> from medcnn.training.errors import TrainingError
    >>> issubclass(TrainingError, Exception)
    True
"""

from medcnn.errors import MedcnnError


class TrainingError(MedcnnError):
    """Training diverged or cannot continue; the message names the epoch and the likely fix."""

    exit_code = 7
