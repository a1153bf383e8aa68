"""The one shared training loop of the neural models (``train``, ``TrainerConfig``, ``TrainResult``)."""

from cinesync.training.trainer import TrainerConfig, TrainResult, train, validation_ndcg

__all__ = ["TrainResult", "TrainerConfig", "train", "validation_ndcg"]
