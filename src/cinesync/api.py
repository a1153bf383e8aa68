"""The Python API: a notebook user's first five minutes, in three names.

    from cinesync import load_dataset, create, evaluate

    data = load_dataset("ml-latest-small")             # or a path to a zip, folder, CSV or Parquet file
    model = create("ease", l2=200).fit(data)
    model.recommend("1", k=10)                         # user 1's next titles (what they rated is excluded)
    model.recommend(history=["1", "260", "1196"], k=5) # anyone's, from external item ids in time order
    board = evaluate(data, models="ease,itemknn,pop")  # tuned on validation, scored on test
    board.table                                        # one row per model, one column per metric

Ids stay external here (MovieLens movieId and userId as strings); ``Model.recommender`` is the
underlying ``Recommender`` for everything else (batch scoring, ``cinesync.ranking``, artifacts).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from cinesync.artifacts import load_model, save_model
from cinesync.data.dataset import Interactions
from cinesync.data.history import HistoryBatch
from cinesync.data.loaders import load_dataset
from cinesync.data.protocols import make_split
from cinesync.data.splits import Split
from cinesync.errors import ConfigError, DataError
from cinesync.models.base import FitContext, Recommender
from cinesync.models.registry import by_family
from cinesync.models.registry import create as create_recommender
from cinesync.ranking import recommend
from cinesync.training.validation import newest_item_holdout

__all__ = ["Evaluation", "Model", "Recommendation", "create", "evaluate", "load_dataset"]


class Recommendation(NamedTuple):
    """One recommended title: its external id, its title and the model's score (higher = better)."""

    item_id: str
    title: str
    score: float


class Model:
    """A ``Recommender`` together with the data it was fitted on, which maps external ids and titles."""

    def __init__(self, recommender: Recommender) -> None:
        self.recommender = recommender
        self.data: Interactions | None = None

    @property
    def name(self) -> str:
        return self.recommender.name

    @property
    def config(self) -> dict[str, Any]:
        return self.recommender.config.model_dump(mode="json")

    def __repr__(self) -> str:
        state = f"fitted on {self.data.name}" if self.data is not None else "not fitted"
        return f"Model({self.recommender!r}, {state})"

    def fit(self, data: Interactions, *, seed: int = 0, progress: bool = False) -> Model:
        """Learn from every interaction in ``data``; returns self. A model that learns a combiner from
        held-out data (the ensemble) holds out each user's newest interaction for it, as the service does."""
        if not isinstance(data, Interactions):
            raise ConfigError(f"fit expects the data set load_dataset returns, got {type(data).__name__}")
        ctx, fit_data = FitContext(seed=seed, progress=progress), data
        if self.recommender.needs_validation:
            fit_data, ctx.valid = newest_item_holdout(data)
        self.recommender.fit(fit_data, ctx)
        self.data = data
        return self

    def _query(self, user_id: object, history: list | tuple | None) -> HistoryBatch:
        data = self._fitted()
        if (user_id is None) == (history is None):
            raise ConfigError("recommend needs exactly one of user_id (a known user) or history (item ids)")
        if history is None:
            return data.histories(np.asarray([data.users.index(user_id)], np.int32))
        if isinstance(history, (str, bytes)):
            raise ConfigError("history is a list of item ids, e.g. history=['1', '260'], not one string")
        items = data.items.indices(list(history), missing="error")
        return HistoryBatch.from_lists([items.tolist()])

    def _fitted(self) -> Interactions:
        if self.data is None:
            raise ConfigError(f"model {self.name!r} is not fitted: call .fit(data) first")
        return self.data

    def recommend(self, user_id: object = None, k: int = 10, *, history: list | tuple | None = None,
                  exclude_seen: bool = True) -> list[Recommendation]:
        """The top ``k`` titles for a user of the fitted data (``user_id``) or for any ``history`` of
        external item ids (oldest first); the history's own items are left out unless ``exclude_seen``
        is False. Unknown ids raise ``UnknownIdError`` naming the id."""
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ConfigError(f"k must be a positive integer, got {k!r}")
        data = self._fitted()
        batch = self._query(user_id, history)
        exclude = batch.to_csr(data.n_items) if exclude_seen else None
        top, scores = recommend(self.recommender.score(batch), int(k), exclude=exclude)
        titles = data.catalog.column("title")
        return [Recommendation(data.items.id(i), str(titles[i]), float(s))
                for i, s in zip(top[0].tolist(), scores[0].tolist(), strict=True) if i >= 0]

    def save(self, path: str | os.PathLike) -> Path:
        """Write the fitted model (config JSON + arrays + the id indexes, no pickle) to directory ``path``."""
        data = self._fitted()
        return save_model(self.recommender, path, users=data.users, items=data.items)

    @classmethod
    def load(cls, path: str | os.PathLike, data: Interactions) -> Model:
        """A model saved by ``save``, with the data set it was fitted on (for ids and titles)."""
        recommender, doc = load_model(path)
        items = doc.get("items")
        if items is not None and items != data.items:
            raise DataError(f"{path}: the model was fitted on other items than {data.name!r} holds "
                            f"({len(items):,} vs {data.n_items:,}); load it with the data set it was fitted on")
        model = cls(recommender)
        model.data = data
        return model


def create(name: str, config: dict[str, Any] | None = None, **params: Any) -> Model:
    """An unfitted model by registry name (``cinesync models available`` lists them), e.g.
    ``create("ease", l2=200)``; unknown names and parameters raise ``ConfigError``."""
    return Model(create_recommender(name, config, **params))


@dataclass
class Evaluation:
    """The result of ``evaluate``: ``table`` (means per model and metric) and the full ``document``
    (CIs, significance, tuning traces, config, data checksum), as ``cinesync evaluate --json`` writes it."""

    document: dict[str, Any]

    @property
    def table(self) -> pd.DataFrame:
        """One row per model (in the order evaluated), one column per metric."""
        return pd.DataFrame.from_dict(self.document["results"], orient="index")

    @property
    def best(self) -> str:
        """The model with the highest NDCG at the smallest cut-off."""
        k = min(self.document["config"]["k"])
        return str(self.table[f"ndcg@{k}"].idxmax())

    def __repr__(self) -> str:
        k = min(self.document["config"]["k"])
        cols = [c for c in (f"ndcg@{k}", f"recall@{k}", f"hr@{k}") if c in self.table]
        return f"Evaluation({self.document['config']['protocol']}, best {self.best})\n{self.table[cols].round(4)}"

    def save(self, json_path: str | None = None, csv_path: str | None = None, report_dir: str | None = None) -> None:
        """Write the document as JSON, one CSV row per model, and/or the HTML/Markdown report with plots."""
        from cinesync.eval.report import write_csv, write_json, write_report

        if json_path:
            write_json(self.document, json_path)
        if csv_path:
            write_csv(self.document, csv_path)
        if report_dir:
            write_report(self.document, report_dir)


def evaluate(data: Interactions | Split | str, models: str | list[str] = "classical", protocol: str = "loo",
             k: int | list[int] = (10, 20), *, tune: bool = True, configs: dict[str, dict[str, Any]] | None = None,
             seed: int = 0, beyond: bool = True, progress: bool = False) -> Evaluation:
    """Evaluate ``models`` (names, a comma-separated string or a group such as "classical") on ``data``
    (a data set, its name/path, or a ready ``Split``) under ``protocol``: each model's key parameters are
    tuned on the validation part (``tune``), then every test user is ranked over the full catalogue.
    ``configs`` fixes parameters per model ({"ease": {"l2": 300}}); fixed ones are not tuned."""
    from cinesync.experiments.leaderboard import ExperimentConfig, run_experiment
    from cinesync.models.registry import FAMILIES, model_class

    if isinstance(models, str):
        names = by_family(models) if models in FAMILIES else [m.strip().lower() for m in models.split(",")
                                                                 if m.strip()]
    else:
        names = [str(m).lower() for m in models]
    if not names:
        raise ConfigError("evaluate needs at least one model")
    configs = {n.lower(): dict(c) for n, c in (configs or {}).items()}
    for n in names:
        model_class(n)(configs.get(n, {}))  # an unknown model or parameter fails before anything trains
    unused = sorted(set(configs) - set(names))
    if unused:
        raise ConfigError(f"configs for {unused}, which are not among the models {names}")
    ks = sorted({int(x) for x in ([k] if isinstance(k, (int, np.integer)) else k)})
    if not ks or ks[0] < 1:
        raise ConfigError(f"k must hold positive cut-offs, got {k!r}")
    if isinstance(data, str):
        data = load_dataset(data)
    split = data if isinstance(data, Split) else make_split(protocol, data, seed=seed)
    name = split.name if isinstance(data, Split) else data.name
    cfg = ExperimentConfig(dataset=name, protocol=protocol if not isinstance(data, Split) else "split",
                           models=names, ks=ks, seed=seed, tune=tune, configs=configs, beyond=beyond)
    return Evaluation(run_experiment(split, cfg, progress=progress))
