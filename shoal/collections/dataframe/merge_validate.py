"""``merge(..., validate=)``: pandas' check that the keys of one or both sides are unique.

``validate`` names the sides whose keys must not repeat: ``one_to_one``
(``"1:1"``) both, ``one_to_many`` (``"1:m"``) the left, ``many_to_one``
(``"m:1"``) the right, ``many_to_many`` (``"m:m"``) none. The check runs in
every merge task, on the two partitions it merges (``check_unique_keys``):
``merge`` only uses strategies that bring every row of such a side with a
given key into one task (hash-placed or index-aligned sides, or the whole
broadcast side), so a repeated key is always seen. A null key repeated
counts, as in pandas.

>>> import pandas as pd
>>> check_unique_keys(pd.DataFrame({"k": [1, 1]}), pd.DataFrame({"k": [1]}), "one_to_one", ("k",), ("k",),
...                   False, False)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
pandas.errors.MergeError: Merge keys are not unique in left dataset; not a one-to-one merge (repeated in left: [1])...
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["VALIDATE_FORMS", "normalised_validate", "unique_sides", "check_unique_keys", "join_keys"]

#: ``validate=`` spellings pandas accepts, each to its long form
VALIDATE_FORMS = {"1:1": "one_to_one", "1:m": "one_to_many", "m:1": "many_to_one", "m:m": "many_to_many",
                  "one_to_one": "one_to_one", "one_to_many": "one_to_many", "many_to_one": "many_to_one",
                  "many_to_many": "many_to_many"}


def join_keys(frame: pd.DataFrame, on, use_index: bool):
    """The join keys of a partition: its index, its one key column, or a MultiIndex of several."""
    if use_index:
        return frame.index
    if len(on) == 1:
        return frame[on[0]]
    return pd.MultiIndex.from_frame(frame[list(on)])


def normalised_validate(validate) -> str | None:
    """The long form of ``validate`` (None when nothing is checked); pandas' error for an unknown one."""
    if validate is None:
        return None
    if validate not in VALIDATE_FORMS:
        choices = "\n".join(f'- "{v}"' for v in VALIDATE_FORMS)
        raise ValueError(f'"{validate}" is not a valid argument. Valid arguments are:\n{choices}')
    return None if VALIDATE_FORMS[validate] == "many_to_many" else VALIDATE_FORMS[validate]


def unique_sides(validate: str | None) -> tuple[str, ...]:
    """The sides whose keys ``validate`` (a long form) requires to be unique."""
    return {"one_to_one": ("left", "right"), "one_to_many": ("left",), "many_to_one": ("right",)}.get(validate, ())


def check_unique_keys(left, right, validate, left_on, right_on, left_index, right_index):
    """pandas' ``MergeError`` when a side ``validate`` needs unique has a repeated key (up to 5 shown)."""
    repeated = {}
    for side in unique_sides(validate):
        frame, on, use_index = (left, left_on, left_index) if side == "left" else (right, right_on, right_index)
        keys = join_keys(frame, on, use_index)
        found = np.asarray(keys.duplicated())
        if found.any():
            repeated[side] = pd.Index(keys[found]).unique()[:5].tolist()
    if not repeated:
        return
    where = "either left or right" if len(repeated) == 2 else next(iter(repeated))
    shown = "; ".join(f"repeated in {side}: {keys}" for side, keys in repeated.items())
    raise pd.errors.MergeError(
        f"Merge keys are not unique in {where} dataset; not a {validate.replace('_', '-')} merge ({shown}). "
        "Drop the repeated keys first (drop_duplicates(subset=...)) or pass validate='many_to_many'"
    )
