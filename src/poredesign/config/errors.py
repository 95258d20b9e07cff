"""The error of an invalid study configuration."""


class ConfigError(ValueError):
    """An invalid study configuration; the message names the key, the value and what is allowed."""
