"""Data sets for multi-task learning: the School data and synthetic tasks."""

from ._samples_generator import (
    make_multitask_classification,
    make_multitask_regression,
)
from ._school import load_school

__all__ = [
    "load_school",
    "make_multitask_classification",
    "make_multitask_regression",
]
