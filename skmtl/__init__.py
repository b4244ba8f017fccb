"""skmtl: multi-task learning for tabular data, as scikit-learn estimators."""

from ._config import config_context, get_config, set_config

__version__ = "0.1.0.dev0"

__all__ = ["__version__", "config_context", "get_config", "set_config"]
