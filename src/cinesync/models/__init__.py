"""Model zoo behind one interface (``base.Recommender``). ``registry`` builds any model by name; a
built-in model's module is imported on first use."""

from cinesync.models.base import FitContext, ModelConfig, Recommender
from cinesync.models.registry import available, create, model_class, register

__all__ = ["FitContext", "ModelConfig", "Recommender", "available", "create", "model_class", "register"]
