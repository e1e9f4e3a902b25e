"""Figures: spectrograms, confusion matrices, curves and interval timelines (matplotlib)."""

from __future__ import annotations

import os

import numpy as np

__all__ = [
    "plot_classification_results",
    "plot_explanation",
    "plot_interval_timeline",
    "plot_regression_results",
    "plot_spectrogram",
    "plot_training_curves",
    "save_training_figure",
]


def _axes(ax):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(6, 3.5))[1]


def plot_spectrogram(spec: np.ndarray, transformer=None, ax=None, duration: float | None = None):
    """Draw one spectrogram with time and frequency axes.

    Parameters
    ----------
    spec : ndarray of shape (n_bins, n_frames)
        One spectrogram, e.g. ``S[song, interval]``.
    transformer : SpectrogramTransformer, optional
        The fitted transformer that made it; gives the frequency axis (mel or
        Hz) and the time step. Without it, bins and frames are numbered.
    ax : matplotlib Axes, optional
        Where to draw; a new figure when None.
    duration : float, optional
        Length of the clip in seconds, for the time axis of resized
        spectrograms (the ``"paper"`` kind).

    Returns
    -------
    matplotlib.image.AxesImage

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_songpop import SpectrogramTransformer
    >>> clip = np.random.default_rng(0).standard_normal((1, 22050)).astype("float32")
    >>> tr = SpectrogramTransformer(n_mels=64).fit(clip)
    >>> plot_spectrogram(tr.transform(clip)[0, 0], tr).get_array().shape
    (64, 44)
    """
    ax = _axes(ax)
    spec = np.asarray(spec, dtype=np.float32)
    if spec.ndim != 2:
        raise ValueError(f"spec must be 2-D (n_bins, n_frames), got shape {spec.shape}")
    n_bins, n_frames = spec.shape
    extent = None
    ylabel, xlabel = "bin", "frame"
    if transformer is not None:
        freqs = transformer.frequencies()
        t_end = duration if duration is not None else (
            n_frames * transformer.hop_length_ / transformer.sr
        )
        extent = (0.0, t_end, 0.0, float(freqs[-1]))
        xlabel = "time (s)"
        ylabel = "frequency (Hz, mel spaced)" if transformer.kind == "mel" else "frequency (Hz)"
    image = ax.imshow(spec, origin="lower", aspect="auto", extent=extent, cmap="magma")
    if transformer is not None and transformer.kind == "mel":
        # mel bins are evenly spaced in mel, not Hz: label a few of them with their Hz
        ticks = np.linspace(0, n_bins - 1, 5).astype(int)
        ax.set_yticks(ticks / max(n_bins - 1, 1) * extent[3])
        ax.set_yticklabels([f"{freqs[int(t * (len(freqs) - 1) / max(n_bins - 1, 1))]:.0f}"
                            for t in ticks])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.figure.colorbar(image, ax=ax, label="dB" if getattr(transformer, "kind", "") != "paper"
                       else "scaled level")
    return image


def plot_training_curves(classifier, ax=None):
    """Draw the training (and validation) loss of a fitted skorch classifier by epoch.

    Parameters
    ----------
    classifier : SpectrogramCNNClassifier
        Fitted; its ``history_`` is read.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_songpop import SpectrogramCNNClassifier
    >>> X = np.random.default_rng(0).standard_normal((8, 2, 16, 16)).astype("float32")
    >>> clf = SpectrogramCNNClassifier(max_epochs=3, random_state=0).fit(X, [0, 1] * 4)
    >>> len(plot_training_curves(clf).lines)
    1
    """
    ax = _axes(ax)
    history = classifier.history_
    epochs = history[:, "epoch"]
    ax.plot(epochs, history[:, "train_loss"], marker="o", label="train loss")
    if "valid_loss" in history[-1]:
        ax.plot(epochs, history[:, "valid_loss"], marker="o", label="validation loss")
    ax.set_xlabel("epoch")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs 1, 2, 3, not 1.25
    ax.set_ylabel("loss")
    ax.legend()
    return ax


def plot_interval_timeline(
    times: np.ndarray, proba: np.ndarray, duration: float, ax=None, label: str = "popular",
    ylabel: str | None = None,
):
    """Draw the prediction for each interval of a song along its time line.

    Parameters
    ----------
    times : ndarray of shape (k,)
        Start of each interval in seconds.
    proba : ndarray of shape (k,)
        The network's score of the class for each interval, or a regressor's
        prediction (:meth:`SpectrogramCNNRegressor.predict_interval`) with
        ``ylabel``.
    duration : float
        Length of an interval in seconds: each is drawn as a segment that long,
        at the height of its output, so overlapping intervals stay apart.
    ax : matplotlib Axes, optional
    label : str, default="popular"
        Name of the class, for the axis.
    ylabel : str or None, default=None
        The axis's label for values that are not probabilities (then the
        axis is scaled to them, not to [0, 1]).

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import numpy as np
    >>> ax = plot_interval_timeline(np.array([0.0, 3.0, 6.0]), np.array([0.2, 0.9, 0.4]), 3.0)
    >>> len(ax.collections[0].get_segments())
    3
    """
    ax = _axes(ax)
    times, proba = np.asarray(times, float), np.asarray(proba, float)
    ax.hlines(proba, times, times + duration, colors="C0", linewidth=5, alpha=0.8)
    for j, (t, p) in enumerate(zip(times, proba)):  # each interval named at its start
        ax.plot([t, t], [p - 0.03, p + 0.03], color="k", linewidth=1)
        ax.annotate(f"{j + 1}", (t + duration / 2, p), textcoords="offset points",
                    xytext=(0, 6), ha="center", fontsize=8)
    ax.axhline(proba.mean(), color="C3", linestyle="--", label=f"song: {proba.mean():.2f}")
    ax.set_xlabel("time in the song (s)")
    if ylabel is None:
        ax.set_ylim(0, 1)
        ax.set_ylabel(f"score of {label}")
    else:
        ax.set_ylabel(ylabel)
    ax.legend(loc="upper right")
    return ax


def _freq_ticks(ax, freqs: np.ndarray) -> None:
    """Label about five rows of an image drawn with row indices by their frequency in Hz."""
    rows = np.linspace(0, len(freqs) - 1, 5).round().astype(int)
    ax.set_yticks(rows)
    ax.set_yticklabels([f"{freqs[r]:.0f}" for r in rows])


def plot_explanation(explanation, song: int = 0, fig=None, label: str | None = None):
    """Draw one song's explanation: its interval timeline, then each interval's attributions.

    Each interval's spectrogram is drawn in grey with its attributions over it
    (red raises the explained output, blue lowers it), seconds from the
    interval's start across and Hz up.

    Parameters
    ----------
    explanation : Bunch
        From :func:`~sklearn_songpop.explain`.
    song : int, default=0
        Row of the song in the explanation.
    fig : matplotlib Figure, optional
        Where to draw; a new figure when None.
    label : str or None, default=None
        Name of the explained output for the timeline's axis; the explained
        class by default.

    Returns
    -------
    matplotlib Figure

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.utils import Bunch
    >>> rng = np.random.default_rng(0)
    >>> why = Bunch(attributions=rng.standard_normal((1, 2, 8, 10)),
    ...             spectrograms=rng.standard_normal((1, 2, 8, 10)),
    ...             starts=np.array([[0.0, 6.0]]), frequencies=np.linspace(0, 4000, 8),
    ...             times=np.linspace(0.15, 2.85, 10), duration=3.0, targets=np.array([1]),
    ...             interval_predictions=np.array([[0.2, 0.4]]), predictions=np.array([0.3]),
    ...             novelty=np.array([0.5]), method="occlusion")
    >>> len(plot_explanation(why).axes)  # the timeline, two intervals, the colour bar
    4
    """
    import matplotlib.pyplot as plt

    attr = np.asarray(explanation.attributions[song], dtype=np.float64)
    spec = np.asarray(explanation.spectrograms[song], dtype=np.float64)
    k = attr.shape[0]
    if fig is None:
        fig = plt.figure(figsize=(3.2 * max(k, 2), 6.0), layout="constrained")
    grid = fig.add_gridspec(2, k, height_ratios=[1, 1.6])
    timeline = fig.add_subplot(grid[0, :])
    if label is None:
        target = None if explanation.targets is None else explanation.targets[song]
        label = "value" if target is None else str(target)
    ylabel = None if explanation.targets is not None else "predicted value"
    # the intervals' share of the song's output times k is each interval's own output
    plot_interval_timeline(explanation.starts[song], explanation.interval_predictions[song],
                           explanation.duration, ax=timeline, label=label, ylabel=ylabel)
    title = f"{explanation.method}: song output {explanation.predictions[song]:.2f}"
    if explanation.novelty is not None:
        distance = explanation.get("novelty_distance")
        title += (f", novelty {explanation.novelty[song]:.2f}" if distance is None
                  else f", novelty {distance[song]:.1f} (1: a typical training song)")
    timeline.set_title(title)
    limit = float(np.abs(attr).max()) or 1.0
    extent = (0.0, explanation.duration, -0.5, attr.shape[1] - 0.5)
    for j in range(k):
        ax = fig.add_subplot(grid[1, j])
        ax.imshow(spec[j], origin="lower", aspect="auto", cmap="gray_r", extent=extent)
        # each cell as opaque as its attribution is strong: where the model did not
        # look, the spectrogram shows through
        overlay = ax.imshow(attr[j], origin="lower", aspect="auto", cmap="RdBu_r",
                            vmin=-limit, vmax=limit, extent=extent,
                            alpha=np.clip(np.abs(attr[j]) / limit, 0.0, 1.0) ** 0.7)
        _freq_ticks(ax, np.asarray(explanation.frequencies))
        ax.set_xlabel("seconds into the interval")
        ax.set_title(f"interval {j + 1}, from {explanation.starts[song][j]:.1f} s",
                     fontsize=10)
        if j == 0:
            ax.set_ylabel("frequency (Hz)")
        else:
            ax.tick_params(labelleft=False)
    fig.colorbar(overlay, ax=fig.axes[1:1 + k], label="attribution", shrink=0.8)
    return fig


def _save_figure(fig, folder, name) -> str:
    import matplotlib.pyplot as plt

    path = os.path.join(folder, name)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def _precision_recall(y_pos, score, name: str, ax) -> None:
    """The precision-recall curve with one point per recall (the highest precision there):
    tied scores would otherwise draw short vertical ticks along the steps."""
    from sklearn.metrics import (
        PrecisionRecallDisplay,
        average_precision_score,
        precision_recall_curve,
    )

    precision, recall, _ = precision_recall_curve(y_pos, score)
    keep = np.r_[True, recall[1:] != recall[:-1]]  # recall decreases along the arrays
    best = np.maximum.reduceat(precision, np.flatnonzero(keep))
    PrecisionRecallDisplay(best, recall[keep], average_precision=average_precision_score(
        y_pos, score), name=name).plot(ax=ax)


def _legend_below(ax) -> None:
    """The legend under the axes, where it covers no curve."""
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), frameon=False)


def plot_classification_results(result, folder: str | os.PathLike) -> list[str]:
    """Save confusion matrices, ROC, precision-recall and reliability curves as PNG files.

    Parameters
    ----------
    result : EvaluationResult
        What :func:`~sklearn_songpop.evaluate` returns for classifiers.
    folder : str or os.PathLike
        Created when missing.

    Returns
    -------
    list of str
        The files written.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from sklearn_songpop import IntervalSampler, evaluate, make_baselines, make_songs
    >>> songs = make_songs(n_songs=12, n_artists=4, duration=4.0, random_state=0)
    >>> X = IntervalSampler(duration=1.0, random_state=0).fit_transform(np.stack(songs.waveforms))
    >>> result = evaluate(make_baselines()["log-mel band statistics"], X, songs.y, cv=2)
    >>> [os.path.basename(p) for p in plot_classification_results(result, tempfile.mkdtemp())]
    ['confusion_matrices.png', 'roc.png', 'precision_recall.png', 'reliability.png']
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from sklearn.calibration import CalibrationDisplay
    from sklearn.metrics import (
        ConfusionMatrixDisplay,
        RocCurveDisplay,
    )

    os.makedirs(folder, exist_ok=True)
    written = []
    names = list(result.scores)
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.8))
    for ax, name in zip(np.atleast_1d(axes), names):
        ConfusionMatrixDisplay(np.asarray(result.confusion[name]),
                               display_labels=result.classes).plot(ax=ax, colorbar=False)
        ax.set_title(name, fontsize=10)
    fig.tight_layout()
    written.append(_save_figure(fig, folder, "confusion_matrices.png"))
    y_pos = np.asarray(result.y) == result.pos_label
    for title, fname in (("ROC curve", "roc.png"),
                         ("Precision-recall curve", "precision_recall.png")):
        fig, ax = plt.subplots(figsize=(5, 5.2))
        for name in names:
            tested = ~np.isnan(result.proba[name])
            if fname == "roc.png":
                RocCurveDisplay.from_predictions(y_pos[tested], result.proba[name][tested],
                                                 name=name, ax=ax)
            else:
                _precision_recall(y_pos[tested], result.proba[name][tested], name, ax)
        ax.set_title(f"{title} ({result.cv})", fontsize=10)
        _legend_below(ax)
        written.append(_save_figure(fig, folder, fname))
    fig, ax = plt.subplots(figsize=(5, 5.2))
    for name in names:
        tested = ~np.isnan(result.proba[name])
        # equal-mass bins, as the expected calibration error counts them
        CalibrationDisplay.from_predictions(y_pos[tested], result.proba[name][tested],
                                            n_bins=10, strategy="quantile", name=name, ax=ax)
    ax.set_xlabel(f"mean predicted probability of {result.pos_label!r}")
    ax.set_ylabel(f"share of {result.pos_label!r} among the songs")
    ax.set_title(f"Reliability, 10 bins of equal size ({result.cv})", fontsize=10)
    _legend_below(ax)
    written.append(_save_figure(fig, folder, "reliability.png"))
    return written


def plot_regression_results(result, folder: str | os.PathLike) -> list[str]:
    """Save a scatter of predicted against true values per model as a PNG file.

    Parameters
    ----------
    result : RegressionResult
        What :func:`~sklearn_songpop.evaluate` returns for models of a number.
    folder : str or os.PathLike
        Created when missing.

    Returns
    -------
    list of str
        The files written.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from sklearn_songpop import IntervalSampler, evaluate, make_baselines, make_songs
    >>> songs = make_songs(n_songs=12, n_artists=4, duration=4.0, random_state=0)
    >>> X = IntervalSampler(duration=1.0, random_state=0).fit_transform(np.stack(songs.waveforms))
    >>> ridge = make_baselines(task="regression")["log-mel band statistics"]
    >>> result = evaluate(ridge, X, songs.popularity, cv=2, baselines=False)
    >>> [os.path.basename(p) for p in plot_regression_results(result, tempfile.mkdtemp())]
    ['predicted_vs_true.png']
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    os.makedirs(folder, exist_ok=True)
    names = list(result.scores)
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 4.0),
                             squeeze=False)
    y = np.asarray(result.y, float)
    for ax, name in zip(axes[0], names):
        tested = ~np.isnan(result.pred[name])
        ax.scatter(y[tested], result.pred[name][tested], s=10, alpha=0.6)
        low, high = np.nanmin(y[tested]), np.nanmax(y[tested])
        ax.plot([low, high], [low, high], color="k", linewidth=0.8)
        ax.set_xlabel("true")
        ax.set_ylabel("predicted")
        ax.set_title(f"{name}: rho {result.scores[name]['spearman']:.2f}", fontsize=10)
    fig.tight_layout()
    return [_save_figure(fig, folder, "predicted_vs_true.png")]


def save_training_figure(result, folder: str | os.PathLike) -> list[str]:
    """Save the loss by epoch of the first model in ``result`` that has a training history.

    Parameters
    ----------
    result : EvaluationResult or RegressionResult
        Its ``estimators`` hold each model as fitted on the last fold.
    folder : str or os.PathLike
        Created when missing.

    Returns
    -------
    list of str
        ``[folder/training_curves.png]``, or empty when no model is a network.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from sklearn_songpop import IntervalSampler, evaluate, make_baselines, make_songs
    >>> songs = make_songs(n_songs=12, n_artists=4, duration=4.0, random_state=0)
    >>> X = IntervalSampler(duration=1.0, random_state=0).fit_transform(np.stack(songs.waveforms))
    >>> result = evaluate(make_baselines()["log-mel band statistics"], X, songs.y, cv=2)
    >>> save_training_figure(result, tempfile.mkdtemp())  # no network, no history
    []
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    for name, fitted in result.estimators.items():
        net = fitted[-1] if hasattr(fitted, "steps") else fitted
        if getattr(net, "history_", None):
            os.makedirs(folder, exist_ok=True)
            fig, ax = plt.subplots(figsize=(6, 4))
            plot_training_curves(net, ax=ax)
            ax.set_title(f"{name}: loss by epoch, last fold")
            fig.tight_layout()
            return [_save_figure(fig, folder, "training_curves.png")]
    return []
