"""Inspection of fitted multi-task models: what they learned about the tasks."""

from ._task_relations import TaskRelationsDisplay

__all__ = ["TaskRelationsDisplay"]
