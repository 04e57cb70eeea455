"""Errors the library raises for bad input.

Every error a user can cause is an :class:`OmrError` with a message written for
that user; the CLI prints it as one line and exits non-zero, the app shows it in
the page. Anything else that escapes is a bug.
"""

from __future__ import annotations


class OmrError(Exception):
    """Base class: a problem with the input, with a message to show the user."""


class ParameterError(OmrError, ValueError):
    """An argument has a bad value (a programming mistake by the caller)."""


class ImageError(OmrError):
    """The image cannot be read, is empty or blank, or is far too small or too large."""


class NoMusicError(OmrError):
    """The image was read, but no staves were found on it."""


class ModelError(OmrError):
    """A shipped model is missing or does not match the code."""
