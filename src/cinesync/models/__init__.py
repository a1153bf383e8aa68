"""Model zoo behind one interface. Importing this package registers the built-in models."""

from cinesync.crossdomain import emcdr  # noqa: F401  (movie <-> tv cross-domain model)
from cinesync.ensemble import model as _ensemble  # noqa: F401  (registers "ensemble")
from cinesync.models import als, biasedmf, content, ease, hybrid, itemknn, popular, rp3beta, seqrules, userknn  # noqa: F401
from cinesync.models.base import FitContext, ModelConfig, Recommender, ValidationData
from cinesync.models.neural import bert4rec, lightgcn, multvae, ncf, sasrec, twotower  # noqa: F401
from cinesync.models.registry import available, create, model_class, register

__all__ = ["FitContext", "ModelConfig", "Recommender", "ValidationData", "available", "create",
           "model_class", "register"]
