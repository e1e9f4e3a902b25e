"""Figures: spectrograms, confusion matrices, curves and interval timelines (matplotlib)."""

from __future__ import annotations

import numpy as np

__all__ = [
    "plot_interval_timeline",
    "plot_spectrogram",
    "plot_training_curves",
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
        Probability of the class for each interval, or a regressor's
        prediction (:meth:`SpectrogramCNNRegressor.predict_interval`) with
        ``ylabel``.
    duration : float
        Length of an interval in seconds (the width of each bar).
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
    >>> len(ax.patches)
    3
    """
    ax = _axes(ax)
    times, proba = np.asarray(times, float), np.asarray(proba, float)
    ax.bar(times, proba, width=duration, align="edge", alpha=0.6, edgecolor="k")
    ax.axhline(proba.mean(), color="C3", linestyle="--", label=f"song: {proba.mean():.2f}")
    ax.set_xlabel("time in the song (s)")
    if ylabel is None:
        ax.set_ylim(0, 1)
        ax.set_ylabel(f"P({label})")
    else:
        ax.set_ylabel(ylabel)
    ax.legend(loc="upper right")
    return ax
