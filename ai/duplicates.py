"""Duplicate submissions: the same order arriving twice, through another channel or file, that
middleware did not recognise (the PO re-keyed or re-issued, a new web cart).

A new order is compared with the customer's orders of the last ``window_hours`` that have the same
items: how alike the lines and quantities are, the value, the PO (normalised and fuzzy), the time
between them, whether the channel differs. A gradient-boosted model turns the closest match into a
probability; it learns from orders later confirmed as duplicates (a disputed second invoice, a
reviewer's confirmation in the tower).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
from rapidfuzz import fuzz
from sklearn.ensemble import HistGradientBoostingClassifier

from ai import features as f
from ai.history import HOUR_MS

CATEGORICAL = ["channel", "cand_channel"]
# more alike can only mean more likely a duplicate (and further apart, less): keeps the few confirmed
# duplicates a model learns from from teaching it odd combinations
MONOTONIC = {
    "same_lines": 1,
    "qty_match": 1,
    "po_equal": 1,
    "po_contains": 1,
    "po_ratio": 1,
    "gap_h": -1,
    "amount_rel": -1,
}
PAIR_FEATURES = [
    "gap_h",
    "same_lines",
    "qty_match",
    "amount_rel",
    "po_equal",
    "po_contains",
    "po_ratio",
    "no_po",
    "channel_differs",
]
_NOT_ALNUM = re.compile(r"[^A-Z0-9]")


def normalize_po(po: str) -> str:
    text = _NOT_ALNUM.sub("", str(po).upper())
    return text[2:] if text.startswith("PO") else text


def _keys(frame: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(index=frame.index)
    out["customer"] = frame["customer"].astype(str)
    out["known_ms"] = frame["known_ms"].astype("float64")
    out["skuset"] = [" ".join(sorted(set(map(str, s)))) for s in frame["skus"]]
    out["qty"] = [
        dict(zip(map(str, s), map(int, q), strict=False))
        for s, q in zip(frame["skus"], frame["quantities"], strict=True)
    ]
    out["amount"] = frame["amount"].astype("float64")
    out["po"] = [normalize_po(p) if p else "" for p in frame["po"].fillna("")]
    out["channel"] = frame["channel"].astype(str)
    return out


def match(new: pd.DataFrame, history: pd.DataFrame, window_hours: float) -> pd.DataFrame:
    """For each order of ``new``: its closest earlier order of the same customer with the same items
    in the window (known before it), and the pair's features. Index: the new orders."""
    window = window_hours * HOUR_MS
    if not new.empty:
        earliest = float(new["known_ms"].min()) - window
        history = history[
            history["customer"].isin(new["customer"].unique())
            & (history["known_ms"] >= earliest)
            & (history["known_ms"] <= float(new["known_ms"].max()))
        ]
    a = _keys(new)
    b = _keys(history)
    a["order_id"] = a.index
    b["cand"] = b.index
    pairs = a.reset_index(drop=True).merge(
        b.reset_index(drop=True)[
            ["customer", "skuset", "known_ms", "qty", "amount", "po", "channel", "cand"]
        ],
        on=["customer", "skuset"],
        suffixes=("", "_c"),
    )
    gap = pairs["known_ms"] - pairs["known_ms_c"]
    pairs = pairs[(gap > 0) & (gap <= window) & (pairs["cand"] != pairs["order_id"])].copy()
    out = pd.DataFrame(index=new.index)
    out["n_candidates"] = 0.0
    for column in PAIR_FEATURES:
        out[column] = np.nan
    out["cand_channel"] = f.UNKNOWN
    out["candidate"] = ""
    if pairs.empty:
        return out
    pairs["gap_h"] = (pairs["known_ms"] - pairs["known_ms_c"]) / HOUR_MS
    same, share = [], []
    for q1, q2 in zip(pairs["qty"], pairs["qty_c"], strict=True):
        equal = sum(1 for sku, q in q1.items() if q2.get(sku) == q)
        same.append(float(equal == len(q1) == len(q2)))
        share.append(equal / max(len(q1), 1))
    pairs["same_lines"] = same
    pairs["qty_match"] = share
    amounts = np.maximum(pairs["amount"].to_numpy(), pairs["amount_c"].to_numpy())
    pairs["amount_rel"] = np.abs(pairs["amount"].to_numpy() - pairs["amount_c"].to_numpy()) / np.where(
        amounts > 0, amounts, 1
    )
    po1, po2 = pairs["po"].tolist(), pairs["po_c"].tolist()
    pairs["po_equal"] = [float(x != "" and x == y) for x, y in zip(po1, po2, strict=True)]
    pairs["po_contains"] = [
        float(x != "" and y != "" and (x.startswith(y) or y.startswith(x)))
        for x, y in zip(po1, po2, strict=True)
    ]
    pairs["po_ratio"] = [fuzz.ratio(x, y) / 100 if x and y else np.nan for x, y in zip(po1, po2, strict=True)]
    pairs["no_po"] = [float(not x and not y) for x, y in zip(po1, po2, strict=True)]
    pairs["channel_differs"] = (pairs["channel"] != pairs["channel_c"]).astype("float64")
    closeness = (
        pairs["same_lines"] * 2
        + pairs["qty_match"]
        + pairs["po_ratio"].fillna(0.5)
        - pairs["gap_h"] / window_hours
    )
    pairs["closeness"] = closeness
    counts = pairs.groupby("order_id").size()
    best = pairs.sort_values("closeness", ascending=False).drop_duplicates("order_id").set_index("order_id")
    out.loc[counts.index, "n_candidates"] = counts.astype("float64")
    for column in PAIR_FEATURES:
        out.loc[best.index, column] = best[column].astype("float64")
    out.loc[best.index, "cand_channel"] = best["channel_c"].astype(str)
    out.loc[best.index, "candidate"] = best["cand"].astype(str)
    return out


def feature_frame(new: pd.DataFrame, matched: pd.DataFrame) -> pd.DataFrame:
    x = pd.DataFrame(index=new.index)
    x["channel"] = new["channel"].astype(str)
    x["lines"] = new["lines"].astype("float64")
    x["log_amount"] = np.log1p(new["amount"].astype("float64").clip(lower=0))
    return x.join(matched.drop(columns=["candidate"]))


@dataclass
class DuplicateModel:
    columns: list[str]
    categories: f.Categories
    window_hours: float
    model: HistGradientBoostingClassifier

    def predict(self, x: pd.DataFrame) -> np.ndarray:
        if x.empty:
            return np.zeros(0)
        return self.model.predict_proba(self.categories.matrix(x, self.columns))[:, 1]


def fit(x: pd.DataFrame, y: np.ndarray, window_hours: float, seed: int = 0) -> DuplicateModel:
    columns = list(x.columns)
    categories = f.Categories()
    categories.learn(x, CATEGORICAL)
    model = HistGradientBoostingClassifier(
        max_iter=150,
        learning_rate=0.08,
        max_leaf_nodes=15,
        min_samples_leaf=10,
        l2_regularization=1.0,
        monotonic_cst=[MONOTONIC.get(c, 0) for c in columns],
        categorical_features=categories.mask(columns),
        early_stopping=False,
        random_state=seed,
    )
    model.fit(categories.matrix(x, columns), y)
    return DuplicateModel(columns, categories, window_hours, model)
