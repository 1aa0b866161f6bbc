"""Errors shared by the model modules (kept apart so that any of them can raise them).

:class:`PreparationError` is raised both by :func:`models.design.prepare` and by the response
encoders of :mod:`models.families`; it lives here because :mod:`models.families` is imported
by :mod:`models.spec`, which :mod:`models.design` imports in turn.
"""

from __future__ import annotations

__all__ = ["PreparationError"]


class PreparationError(ValueError):
    """The data cannot feed this model (named column, reason)."""
