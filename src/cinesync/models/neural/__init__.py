"""The neural models (PyTorch), each a ``common.TorchRecommender`` trained by the one loop of
``cinesync.training.trainer``. Needs the ``neural`` extra."""

from cinesync.extras import require

require("torch", extra="neural", what="the neural models (cinesync.models.neural)")
