"""The trend classifier: training, walk-forward prediction and persistence.

The model predicts P(close[i + horizon] > close[i]) from the features of closed
candle ``i`` (:mod:`engine.trend.features`). Two learners are offered:
``"hgb"`` (scikit-learn's HistGradientBoostingClassifier, the default: fits two
years of hourly candles in about a second) and ``"logreg"`` (standardised
logistic regression, faster and simpler).

Walk-forward (:func:`walk_forward_proba`): the candles are cut into blocks of
``retrain_every`` rows; the model for a block starting at row ``s`` is fitted at
the close of candle ``s - 1`` on rows ``i`` whose label was known by then
(``i + horizon <= s - 1``), at most ``train_window`` of them, and predicts rows
``s .. s + retrain_every - 1`` only. Every prediction is therefore out of
sample, and changing candles after ``t`` cannot change a prediction at or
before ``t`` (tested).

Persistence: :func:`save_model` / :func:`load_model` turn a :class:`TrendModel`
into bytes (a pickle with a format tag, version, feature list and the
scikit-learn version) for the database, so a restart does not retrain from
nothing. Only load bytes this code saved: unpickling runs code.
"""

from __future__ import annotations

import pickle
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from engine.market_data.candles import Candles
from engine.trend.features import FEATURE_NAMES, features, labels

MODEL_FORMAT = "multibot-trend-model"
MODEL_VERSION = 1
KINDS = ("hgb", "logreg")


class ModelFormatError(ValueError):
    """Stored model bytes that cannot be used (other format, version, features or
    scikit-learn version): retrain instead."""


@dataclass(frozen=True)
class ModelParams:
    """How the classifier is trained. Windows are counted in candles of the bot's timeframe.

    ``horizon``: the label is the direction of the next ``horizon`` candles.
    ``train_window``: at most this many labelled rows per fit (the most recent ones).
    ``retrain_every``: block length of the walk-forward (and the live retrain period).
    ``min_train``: no prediction before this many labelled rows exist.
    """

    kind: str = "hgb"
    horizon: int = 4
    train_window: int = 8760
    retrain_every: int = 720
    min_train: int = 4000
    max_iter: int = 150
    learning_rate: float = 0.05
    max_leaf_nodes: int = 15
    min_samples_leaf: int = 200
    l2_regularization: float = 1.0
    random_state: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"model kind must be one of {KINDS}, got {self.kind!r}")
        for name in ("horizon", "train_window", "retrain_every", "min_train", "max_iter"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ModelParams:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in values.items() if k in known})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TrendModel:
    """A fitted classifier with what is needed to use it safely later.

    ``trained_until_ts``: open time (ms) of the last candle whose label was used;
    ``fitted_at_ts``: open time of the candle at whose close it was fitted.
    """

    classifier: Any
    params: ModelParams
    feature_names: tuple[str, ...] = FEATURE_NAMES
    trained_rows: int = 0
    trained_until_ts: int | None = None
    fitted_at_ts: int | None = None
    version: int = MODEL_VERSION
    extra: dict[str, Any] = field(default_factory=dict)


def _new_classifier(params: ModelParams) -> Any:
    if params.kind == "logreg":
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        return make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=500))
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(
        max_iter=params.max_iter,
        learning_rate=params.learning_rate,
        max_leaf_nodes=params.max_leaf_nodes,
        min_samples_leaf=params.min_samples_leaf,
        l2_regularization=params.l2_regularization,
        early_stopping=False,  # deterministic, and no hidden validation split
        random_state=params.random_state,
    )


def _fit(x: np.ndarray, y: np.ndarray, params: ModelParams) -> Any:
    classifier = _new_classifier(params)
    classifier.fit(x, y.astype(np.int8))
    return classifier


def _up_probability(classifier: Any, x: np.ndarray) -> np.ndarray:
    proba = classifier.predict_proba(x)
    classes = list(classifier.classes_)
    if 1 not in classes:  # trained on a window that only went down
        return np.zeros(x.shape[0])
    return proba[:, classes.index(1)]


def _usable(x: np.ndarray) -> np.ndarray:
    return np.isfinite(x).all(axis=1)


def train_model(candles: Candles, params: ModelParams | None = None, end: int | None = None) -> TrendModel:
    """Fit on the labelled rows known at the close of candle ``end - 1`` (default: the last).

    Uses rows ``i`` with ``i + horizon <= end - 1``, the most recent
    ``train_window`` of them. Raises ValueError when fewer than ``min_train``
    usable rows exist.
    """
    params = params or ModelParams()
    n = len(candles)
    end = n if end is None else end
    if not 0 < end <= n:
        raise ValueError(f"end must be in 1..{n}, got {end}")
    x = features(candles)
    y = labels(candles, params.horizon)
    last = end - 1 - params.horizon  # last row whose label is known at the close of end - 1
    rows = _training_rows(x, y, last, params)
    if rows.size < params.min_train:
        raise ValueError(f"not enough history to train: {rows.size} usable rows, need {params.min_train}")
    classifier = _fit(x[rows], y[rows], params)
    ts = candles.timestamps.tolist()
    return TrendModel(
        classifier=classifier,
        params=params,
        trained_rows=int(rows.size),
        trained_until_ts=ts[int(rows[-1])],
        fitted_at_ts=ts[end - 1],
    )


def _training_rows(x: np.ndarray, y: np.ndarray, last: int, params: ModelParams) -> np.ndarray:
    """Indices ``<= last`` with finite features and a label, the newest ``train_window``."""
    if last < 0:
        return np.zeros(0, dtype=np.int64)
    ok = _usable(x[: last + 1]) & ~np.isnan(y[: last + 1])
    rows = np.flatnonzero(ok)
    return rows[-params.train_window :]


def predict_proba(model: TrendModel, candles: Candles) -> np.ndarray:
    """P(up over the next ``horizon`` candles) per candle; NaN where features are warming up.

    The caller decides which rows are out of sample (rows after
    ``model.fitted_at_ts``); for backtests use :func:`walk_forward_proba`.
    """
    x = features(candles)
    out = np.full(len(candles), np.nan)
    ok = _usable(x)
    if ok.any():
        out[ok] = _up_probability(model.classifier, x[ok])
    return out


def walk_forward_proba(candles: Candles, params: ModelParams | None = None) -> np.ndarray:
    """Out-of-sample P(up) for every candle (NaN before the first fit; see the module docstring)."""
    params = params or ModelParams()
    x = features(candles)
    y = labels(candles, params.horizon)
    n = len(candles)
    out = np.full(n, np.nan)
    usable = _usable(x)
    known = usable & ~np.isnan(y)
    # labelled rows available at the close of candle s - 1: rows i <= s - 1 - horizon
    counts = np.cumsum(known)
    start = None
    for s in range(params.horizon + 1, n):
        if counts[s - 1 - params.horizon] >= params.min_train:
            start = s
            break
    if start is None:
        return out
    for s in range(start, n, params.retrain_every):
        rows = _training_rows(x, y, s - 1 - params.horizon, params)
        classifier = _fit(x[rows], y[rows], params)
        block = np.arange(s, min(s + params.retrain_every, n))
        block = block[usable[block]]
        if block.size:
            out[block] = _up_probability(classifier, x[block])
    return out


def first_prediction_index(proba: np.ndarray) -> int | None:
    """Index of the first candle with a walk-forward prediction (None when there is none)."""
    hits = np.flatnonzero(~np.isnan(proba))
    return int(hits[0]) if hits.size else None


def _sklearn_version() -> str:
    import sklearn  # only where a model is stored or loaded: scikit-learn takes ~0.5 s to import

    return str(sklearn.__version__)


def save_model(model: TrendModel) -> bytes:
    """The model as bytes for the database (see :func:`load_model`)."""
    payload = {
        "format": MODEL_FORMAT,
        "version": model.version,
        "sklearn_version": _sklearn_version(),
        "feature_names": list(model.feature_names),
        "params": model.params.to_dict(),
        "trained_rows": model.trained_rows,
        "trained_until_ts": model.trained_until_ts,
        "fitted_at_ts": model.fitted_at_ts,
        "extra": dict(model.extra),
        "classifier": model.classifier,
    }
    return pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)


def load_model(blob: bytes) -> TrendModel:
    """A model saved by :func:`save_model`. Raises :class:`ModelFormatError` when the bytes are
    not ours, or were written for another version, feature list or scikit-learn version."""
    try:
        payload = pickle.loads(blob)
    except Exception as exc:
        raise ModelFormatError(f"not a stored trend model: {exc}") from None
    if not isinstance(payload, dict) or payload.get("format") != MODEL_FORMAT:
        raise ModelFormatError("not a stored trend model")
    if payload.get("version") != MODEL_VERSION:
        raise ModelFormatError(f"model version {payload.get('version')} != {MODEL_VERSION}: retrain")
    if tuple(payload.get("feature_names", ())) != FEATURE_NAMES:
        raise ModelFormatError("the model was trained on other features: retrain")
    running = _sklearn_version()
    if payload.get("sklearn_version") != running:
        raise ModelFormatError(
            f"model saved with scikit-learn {payload.get('sklearn_version')}, running {running}: retrain"
        )
    return TrendModel(
        classifier=payload["classifier"],
        params=ModelParams.from_dict(payload["params"]),
        feature_names=FEATURE_NAMES,
        trained_rows=payload["trained_rows"],
        trained_until_ts=payload["trained_until_ts"],
        fitted_at_ts=payload["fitted_at_ts"],
        version=payload["version"],
        extra=payload.get("extra", {}),
    )
