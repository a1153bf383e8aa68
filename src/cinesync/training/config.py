"""``TrainConfig``: the optimisation settings of one training run, declared once.

Every neural model's config inherits these fields (``models.neural.common.NeuralConfig``) and may
override a default; the trainer reads them from there. What is not a hyper-parameter (seed, device,
checkpoint folder, metrics log, tracker) travels separately as ``trainer.RunOptions``.
"""

from __future__ import annotations

from typing import Literal

import pydantic


class TrainConfig(pydantic.BaseModel):
    """epochs: passes over the data; lr / weight_decay: AdamW; batch_size: examples per step;
    warmup_frac: share of the steps with a linear warm-up; schedule: the learning-rate curve after it;
    grad_clip: global gradient-norm cap (None = no clipping); grad_accum: batches per optimiser step;
    patience: evaluations without a better validation NDCG@10 before stopping (None = never);
    eval_every: epochs between validations."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    epochs: int = pydantic.Field(50, ge=1)
    lr: float = pydantic.Field(1e-3, gt=0.0)
    weight_decay: float = pydantic.Field(0.0, ge=0.0)
    batch_size: int = pydantic.Field(128, ge=1)
    warmup_frac: float = pydantic.Field(0.05, ge=0.0, lt=1.0)
    schedule: Literal["cosine", "onecycle", "constant"] = "cosine"
    grad_clip: float | None = pydantic.Field(1.0, gt=0.0)
    grad_accum: int = pydantic.Field(1, ge=1)
    patience: int | None = pydantic.Field(5, ge=1)
    eval_every: int = pydantic.Field(1, ge=1)


#: the field names of ``TrainConfig`` (a neural model's config passes exactly these to the trainer)
TRAIN_FIELDS = tuple(TrainConfig.model_fields)
