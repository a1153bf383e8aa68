"""The one training loop of the neural models.

``config`` (TrainConfig: the optimisation settings every neural config inherits), ``validation``
(ValidationData for early stopping), ``runtime`` (scoped seeds and thread counts), ``trainer``
(``train``, ``RunOptions``, ``TrainResult``; imports torch) and ``tracking`` (MLflow / W&B).
Import ``cinesync.training.trainer`` for the loop itself: this package stays importable without torch.
"""
