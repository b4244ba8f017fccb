"""Multi-task linear models: one linear function per task, tied by a penalty."""

__all__ = []
