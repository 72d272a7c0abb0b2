"""Exception classification: the root cause of an exception as it opens, so it reaches the right team.

A calibrated-enough linear text classifier: TF-IDF of the words and word pairs of what the system
said (``order.exception.message``, the status message, ``error.type``) together with the exception
type, the system kind, the stage and the span name, into a multinomial logistic regression. It
learns from the reason codes recorded when exceptions were resolved (``order.exception.root_cause``)
and from people's overrides in the tower, which win. The baseline is a keyword rule list, as a
service team would write it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

CONTEXT = ["exception_type", "system_kind", "stage", "span_name", "error_type"]

# the keyword rules a service desk would write (first match wins), then a default per exception type
KEYWORD_RULES: list[tuple[tuple[str, ...], str]] = [
    (
        ("timeout", "timed out", "unreachable", "http 50", "connection refused", " api ", "broker"),
        "integration",
    ),
    (("credit", "past due", "risk class"), "credit"),
    (("price", "promotion", "margin", "contract"), "pricing"),
    (("stock", "allocation", "bin ", "cycle count"), "inventory"),
    (("segment", "element", "qualifier", "isa", "gs0", "iea", "partner", "x12"), "partner_edi"),
    (("carrier", "pickup", "hub", "transit", "weather", "trailer", "ups", "fedex", "xpo"), "carrier"),
    (("address", "consignee", "ship-to", "bill-to", "recipient", "duplicate", "dispute"), "customer_data"),
    (("unit of measure", "uom", "item", "tax", "gl account", "set up", "cross-referenced"), "master_data"),
]
TYPE_DEFAULTS = {
    "credit_hold": "credit",
    "pricing": "pricing",
    "stockout": "inventory",
    "backorder": "inventory",
    "edi_mapping": "master_data",
    "edi_envelope": "partner_edi",
    "edi_rejected": "partner_edi",
    "carrier_delay": "carrier",
    "carrier_exception": "customer_data",
    "invoice": "master_data",
    "duplicate": "customer_data",
}


def text_of(frame: pd.DataFrame) -> pd.Series:
    """What the system said: the exception message, else the status message, with the error type."""
    message = frame["message"].fillna("").astype(str)
    status = frame["status_message"].fillna("").astype(str)
    said = message.where(message != "", status)
    return (said + " " + frame["error_type"].fillna("").astype(str).str.replace("_", " ")).str.strip()


def inputs(frame: pd.DataFrame) -> pd.DataFrame:
    x = pd.DataFrame({"text": text_of(frame)}, index=frame.index)
    for column in CONTEXT:
        x[column] = frame[column].fillna("").astype(str)
    return x


def keyword_baseline(frame: pd.DataFrame) -> np.ndarray:
    """The keyword rules' answer for each exception."""
    texts = (" " + text_of(frame).str.lower() + " ").tolist()
    types = frame["exception_type"].astype(str).tolist()
    out = []
    for text, kind in zip(texts, types, strict=True):
        label = next((cause for words, cause in KEYWORD_RULES if any(w in text for w in words)), None)
        out.append(label or TYPE_DEFAULTS.get(kind, "integration"))
    return np.array(out, dtype=object)


@dataclass
class CauseModel:
    pipeline: Pipeline

    @property
    def classes(self) -> list[str]:
        return [str(c) for c in self.pipeline.classes_]

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        if frame.empty:
            return np.zeros((0, len(self.classes)))
        return np.asarray(self.pipeline.predict_proba(inputs(frame)))

    def predict(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(label, confidence) per exception."""
        proba = self.predict_proba(frame)
        if not len(proba):
            return np.array([], dtype=object), np.zeros(0)
        best = proba.argmax(axis=1)
        return np.array(self.classes, dtype=object)[best], proba[np.arange(len(best)), best]

    def explain(self, frame: pd.DataFrame, top: int = 4) -> list[list[dict[str, object]]]:
        """The words and context that pushed each exception towards its predicted cause."""
        transformer = self.pipeline.named_steps["features"]
        model: LogisticRegression = self.pipeline.named_steps["model"]
        names = transformer.get_feature_names_out()
        matrix = transformer.transform(inputs(frame))
        labels, _ = self.predict(frame)
        out = []
        for i, label in enumerate(labels):
            k = self.classes.index(str(label))
            row = matrix.getrow(i) if hasattr(matrix, "getrow") else matrix[i : i + 1]
            coo = row.tocoo()
            contributions = sorted(
                (
                    (float(v * model.coef_[k, j]), str(names[j]))
                    for j, v in zip(coo.col, coo.data, strict=True)
                ),
                reverse=True,
            )[:top]
            out.append(
                [
                    {"feature": name.split("__", 1)[-1], "effect": round(c, 3)}
                    for c, name in contributions
                    if c > 0
                ]
            )
        return out


def fit(frame: pd.DataFrame, labels: np.ndarray, seed: int = 0) -> CauseModel:
    features = ColumnTransformer(
        [
            (
                "words",
                TfidfVectorizer(
                    ngram_range=(1, 2),
                    min_df=2,
                    sublinear_tf=True,
                    token_pattern=r"(?u)\b[A-Za-z][A-Za-z0-9_-]+\b",
                ),
                "text",
            ),
            ("context", OneHotEncoder(handle_unknown="ignore"), CONTEXT),
        ]
    )
    pipeline = Pipeline(
        [
            ("features", features),
            ("model", LogisticRegression(C=4.0, max_iter=2000, class_weight="balanced", random_state=seed)),
        ]
    )
    pipeline.fit(inputs(frame), labels)
    return CauseModel(pipeline)
