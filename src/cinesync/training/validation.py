"""``ValidationData``: what an iterative model may use for early stopping or a learned combiner (no
torch needed), and ``newest_item_holdout``, the validation data of a fit on everything (the service's)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from cinesync.data.dataset import Interactions
from cinesync.data.history import HistoryBatch
from cinesync.data.splits import leave_last_out
from cinesync.errors import DataError


@dataclass
class ValidationData:
    """Histories and held-out targets of the validation users.

    history: the users' training histories. targets: (n, n_items) CSR of held-out items.
    exclude: (n, n_items) CSR of items not to rank (usually the training items).
    """

    history: HistoryBatch
    targets: Any
    exclude: Any


def newest_item_holdout(data: Interactions) -> tuple[Interactions, ValidationData]:
    """(train, validation): each user's newest interaction (users with >= 2) becomes a held-out
    target; history and exclusion are the user's other interactions. Same item index as ``data``."""
    split = leave_last_out(data, n_valid=0, n_test=1)
    users = np.flatnonzero(split.test.user_counts() > 0).astype(np.int32)
    if len(users) == 0:
        raise DataError("no user has two or more interactions: nothing to hold out for the combiner")
    valid = ValidationData(split.train.histories(users), split.test.csr()[users], split.train.csr()[users])
    return split.train, valid
