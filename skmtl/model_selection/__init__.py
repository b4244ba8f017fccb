"""Task-aware splitters: every task in every fold, or whole tasks held out."""

from ._split import FewShotTasksOut, LeaveTasksOut, TaskKFold, train_test_split_tasks

__all__ = ["FewShotTasksOut", "LeaveTasksOut", "TaskKFold", "train_test_split_tasks"]
