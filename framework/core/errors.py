"""Errors a user can fix: each carries one line saying what is wrong and how to fix it."""

from __future__ import annotations

from collections.abc import Iterable


class ArenaError(Exception):
    """Base class for user-facing errors; the runner prints them as one line and exits non-zero."""


class ConfigError(ArenaError):
    """A config value is invalid.

    ``key`` is the option's name inside its group (``heads``); the runner prefixes the group
    (``model.heads``) so the message names the key exactly as the user would override it.
    """

    def __init__(self, key: str, value: object, allowed: str) -> None:
        self.key, self.value, self.allowed = key, value, allowed
        super().__init__(self._render())

    def in_group(self, group: str) -> ConfigError:
        """Returns the same error with its key qualified by the config group it came from."""
        return ConfigError(f"{group}.{self.key}", self.value, self.allowed)

    def _render(self) -> str:
        return f"invalid config value {self.key}={self.value!r}: {self.allowed}"


class MissingValue(ConfigError):
    """A key that is needed has no value: it was deleted (``~model.dim``) or never given."""

    def __init__(self, key: str, needed_by: str) -> None:
        self.needed_by = needed_by
        super().__init__(key, None, f"{needed_by} needs it")

    def in_group(self, group: str) -> MissingValue:
        return MissingValue(f"{group}.{self.key}", self.needed_by)

    def _render(self) -> str:
        return f"missing config value {self.key}: {self.needed_by} needs it; set it with {self.key}=<value>"


class IncompatibleError(ArenaError):
    """A modality/model pair that cannot work, detected before any data loads."""


class DataError(ArenaError):
    """A data file is missing, corrupt or could not be downloaded."""


class TrainingDiverged(ArenaError):
    """The training loss became NaN or infinite."""


class NoCheckpoint(ArenaError):
    """Training ended without a validation score, so no checkpoint was chosen and nothing may be tested."""


class OutputError(ArenaError):
    """The run folder cannot be written, or has too little free space for the run's checkpoints."""


class Interrupted(ArenaError):
    """The run was stopped by a signal (SIGINT, SIGTERM); ``signal`` is its number."""

    def __init__(self, message: str, signal: int) -> None:
        super().__init__(message)
        self.signal = signal


def require(condition: bool, key: str, value: object, allowed: str) -> None:
    """Raises :class:`ConfigError` for ``key`` unless ``condition`` holds."""
    if not condition:
        raise ConfigError(key, value, allowed)


def one_of(key: str, value: object, choices: Iterable[object]) -> None:
    """Raises :class:`ConfigError` unless ``value`` is one of ``choices``."""
    choices = tuple(choices)
    require(value in choices, key, value, "allowed values are " + ", ".join(map(str, choices)))
