"""Why a song got its score: attributions over the spectrogram of every interval.

The attributions come from Captum (Kokhlikyan et al. 2020, "Captum: a
unified and generic model interpretability library for PyTorch"), through
the fitted pipeline: its front end decodes the songs and makes the
spectrograms exactly as :meth:`~sklearn.pipeline.Pipeline.predict` does, and
Captum perturbs or differentiates the network's output with respect to those
spectrograms. The novelty of a song (how far it lies from every song the
network learned from) is the fitted network's
:meth:`~sklearn_songpop.SpectrogramCNNClassifier.novelty`; :func:`explain`
reports it beside the attributions.
"""

from __future__ import annotations

from contextlib import contextmanager
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.pipeline import Pipeline
from sklearn.utils import Bunch
from sklearn.utils.validation import check_is_fitted

from sklearn_songpop._device import resolve_device
from sklearn_songpop.classifier import SpectrogramCNNClassifier
from sklearn_songpop.intervals import IntervalSampler
from sklearn_songpop.regressor import SpectrogramCNNRegressor
from sklearn_songpop.spectrogram import SpectrogramTransformer

__all__ = ["METHODS", "explain", "explanation_records", "prediction_text"]

#: The attribution methods of :func:`explain`, each by its Captum class.
METHODS = {
    "occlusion": "FeatureAblation",
    "integrated_gradients": "IntegratedGradients",
    "input_x_gradient": "InputXGradient",
}


def _parts(pipeline) -> tuple[Pipeline, IntervalSampler, SpectrogramTransformer, object]:
    """The front end, its sampler and spectrogram steps, and the fitted network."""
    if not isinstance(pipeline, Pipeline):
        raise TypeError(
            "explain needs a fitted Pipeline (intervals, spectrogram, network), got "
            f"{type(pipeline).__name__}"
        )
    net = pipeline.steps[-1][1]
    # a calibrated or conformal wrapper: its fitted network explains the score under it
    while not isinstance(net, (SpectrogramCNNClassifier, SpectrogramCNNRegressor)) \
            and hasattr(net, "estimator_"):
        net = net.estimator_
    if not isinstance(net, (SpectrogramCNNClassifier, SpectrogramCNNRegressor)):
        raise TypeError(
            "explain needs a pipeline that ends in a SpectrogramCNNClassifier or a "
            f"SpectrogramCNNRegressor; this one ends in {type(net).__name__} (a linear probe "
            "or a baseline has no spectrogram input to attribute to)"
        )
    front = pipeline[:-1]
    samplers = [s for _, s in front.steps if isinstance(s, IntervalSampler)]
    specs = [s for _, s in front.steps if isinstance(s, SpectrogramTransformer)]
    if not samplers or not specs:
        raise ValueError(
            "explain needs a pipeline with an IntervalSampler and a SpectrogramTransformer "
            "before the network (it reports where each interval starts and which frequency "
            f"each bin holds); this one has steps {[name for name, _ in pipeline.steps]}"
        )
    check_is_fitted(net)
    return front, samplers[0], specs[0], net


@contextmanager
def _evaluating(net):
    """The network in eval mode (no dropout, batch-norm statistics fixed)."""
    module = net.module_
    was_training = module.training
    module.eval()
    try:
        yield
    finally:
        module.train(was_training)


def _forward(net, k: int):
    """Captum's forward function: ``(b, n_bins, n_frames)`` intervals to their song outputs.

    A song's output is the mean of its intervals' (probabilities, or values), so
    each interval's share of it is its own output divided by ``k``.
    """

    def forward(x: torch.Tensor) -> torch.Tensor:
        return net.interval_predictions(x[:, None])[:, 0] / k  # crops combined

    return forward


def _patch_mask(n_bins: int, n_frames: int, bins: int, frames: int) -> torch.Tensor:
    """Feature groups for Captum: one id per patch of ``bins`` x ``frames`` cells."""
    rows = np.arange(n_bins) // bins
    cols = np.arange(n_frames) // frames
    n_cols = int(cols.max()) + 1
    return torch.as_tensor(rows[:, None] * n_cols + cols[None, :])[None]


def _check(method, patch, n_steps, batch_size) -> tuple[int, float]:
    if method not in METHODS:
        raise ValueError(f"method must be one of {sorted(METHODS)}, got {method!r}")
    if (not isinstance(patch, tuple | list) or len(patch) != 2
            or not isinstance(patch[0], Integral) or not isinstance(patch[1], Real)
            or isinstance(patch[0], bool) or patch[0] < 1 or not patch[1] > 0):
        raise ValueError(
            "patch must be (n_bins, seconds): a positive whole number of frequency bins and "
            f"a positive length in seconds, e.g. (4, 1.0); got {patch!r}"
        )
    for name, value in (("n_steps", n_steps), ("batch_size", batch_size)):
        if not isinstance(value, Integral) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(patch[0]), float(patch[1])


def explain(
    pipeline,
    X,
    *,
    method: str = "occlusion",
    target=None,
    patch: tuple[int, float] = (4, 1.0),
    n_steps: int = 32,
    batch_size: int = 64,
) -> Bunch:
    """Attribute each song's prediction to the cells of its intervals' spectrograms.

    Parameters
    ----------
    pipeline : Pipeline
        Fitted: an :class:`IntervalSampler`, a :class:`SpectrogramTransformer`
        and a :class:`SpectrogramCNNClassifier` or
        :class:`SpectrogramCNNRegressor` last, as
        :func:`make_songpop_pipeline` builds.
    X : sequence of paths, sequence of 1-D arrays, or 2-D array
        Songs, as the pipeline's ``predict`` takes them.
    method : {"occlusion", "integrated_gradients", "input_x_gradient"}, \
default="occlusion"
        ``"occlusion"`` (Captum's ``FeatureAblation`` over patches) sets one
        patch of ``patch`` cells at a time to the interval's mean level and
        records how much the song's output drops. ``"integrated_gradients"``
        integrates the gradient along the path from the interval's mean level
        to the spectrogram in ``n_steps`` steps. ``"input_x_gradient"`` is the
        gradient times the input (Captum's ``InputXGradient``). Occlusion is the
        default because it is the faithful one here: with a cue planted in
        the songs, it puts the most mass on the cue's bands (see the user
        guide's "Why did it say that?").
    target : class label or None, default=None
        For a classifier, the class whose probability is explained; None
        explains each song's predicted class. Ignored for a regressor.
    patch : tuple of (int, float), default=(4, 1.0)
        Occlusion patch: frequency bins and seconds.
    n_steps : int, default=32
        Steps of the integral for ``"integrated_gradients"``.
    batch_size : int, default=64
        Intervals (occluded copies, or integral steps) per forward pass.

    Returns
    -------
    Bunch
        ``attributions`` (n, k, n_bins, n_frames) float32: each cell's share
        of the song's output (a probability of ``targets``, or the predicted
        value), positive where the cell raises it; ``spectrograms`` (n, k,
        n_bins, n_frames); ``starts`` (n, k), each interval's start in
        seconds; ``frequencies`` (n_bins,), each bin's centre in Hz;
        ``times`` (n_frames,), each frame's time in seconds from its
        interval's start; ``duration``, an interval's length in seconds;
        ``targets`` (n,), the explained class of each song (None for a
        regressor); ``interval_predictions`` (n, k) and ``predictions`` (n,),
        the explained output of each interval and song; ``novelty`` and
        ``novelty_distance`` (n,), its two scales (see
        :meth:`SpectrogramCNNClassifier.novelty`); ``classes`` (the
        classifier's, None for a regressor); ``method``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_songpop import make_songpop_pipeline, make_songs
    >>> songs = make_songs(n_songs=24, duration=8.0, random_state=0)
    >>> pipe = make_songpop_pipeline("default", random_state=0,
    ...                              classifier__max_epochs=2).fit(songs.waveforms, songs.y)
    >>> why = explain(pipe, songs.waveforms[:2])
    >>> why.attributions.shape, why.starts.shape, why.frequencies.shape
    ((2, 3, 64, 259), (2, 3), (64,))
    """
    bins, seconds = _check(method, patch, n_steps, batch_size)
    front, sampler, spec, net = _parts(pipeline)
    S = np.asarray(front.transform(X), dtype=np.float32)
    if S.ndim != 4:
        raise ValueError(
            f"the pipeline's front end gave shape {S.shape}, not (n_songs, k, n_bins, n_frames)"
        )
    n, k, n_bins, n_frames = S.shape
    starts = sampler.interval_starts(X)
    if isinstance(net, SpectrogramCNNClassifier):
        interval_out = net.predict_interval_proba(S)  # (n, k, n_classes)
        if target is None:
            t_idx = interval_out.mean(axis=1).argmax(axis=1)
        else:
            found = np.flatnonzero(net.classes_ == target)
            if found.size == 0:
                raise ValueError(
                    f"target {target!r} is not a class of the model; its classes are "
                    f"{net.classes_.tolist()}"
                )
            t_idx = np.full(n, found[0])
        targets = net.classes_[t_idx]
        interval_pred = interval_out[np.arange(n), :, t_idx]
    else:
        t_idx = np.zeros(n, dtype=int)
        targets = None
        interval_pred = net.predict_interval(S)

    frame_seconds = sampler.duration / n_frames
    frames = max(1, int(round(seconds / frame_seconds)))
    attributions = _attribute(net, S.reshape(n * k, n_bins, n_frames), np.repeat(t_idx, k), k,
                              method, (bins, frames), n_steps, batch_size)
    return Bunch(
        attributions=attributions.reshape(n, k, n_bins, n_frames),
        spectrograms=S,
        starts=starts,
        frequencies=_bin_frequencies(spec, n_bins),
        times=(np.arange(n_frames) + 0.5) * frame_seconds,
        duration=float(sampler.duration),
        targets=targets,
        interval_predictions=interval_pred.astype(np.float32),
        predictions=interval_pred.mean(axis=1).astype(np.float32),
        novelty=net.novelty(S) if net.novelty_reference_ is not None else None,
        novelty_distance=(net.novelty(S, scale="distance")
                          if net.novelty_reference_ is not None else None),
        classes=getattr(net, "classes_", None),
        method=method,
    )


def _attribute(net, x: np.ndarray, targets: np.ndarray, k: int, method: str,
               patch: tuple[int, int], n_steps: int, batch_size: int) -> np.ndarray:
    """Attributions of ``(m, n_bins, n_frames)`` intervals to their target output."""
    from captum import attr

    forward = _forward(net, k)
    out = np.empty(x.shape, dtype=np.float32)
    with _evaluating(net):
        device = resolve_device(net.device)
        mask = _patch_mask(x.shape[1], x.shape[2], *patch).to(device)
        # a cell "without" anything: the interval's own mean level, not zero dB
        # intervals per call: each is copied once per patch, or once per integral step
        rows = {"occlusion": 1, "integrated_gradients": max(1, batch_size // n_steps)
                }.get(method, batch_size)
        for lo in range(0, len(x), rows):
            xb = torch.as_tensor(x[lo:lo + rows], device=device)
            base = xb.mean(dim=(-2, -1), keepdim=True).expand_as(xb).contiguous()
            tb = torch.as_tensor(targets[lo:lo + rows], device=device)
            if method == "occlusion":
                a = attr.FeatureAblation(forward).attribute(
                    xb, baselines=base, target=tb, feature_mask=mask,
                    perturbations_per_eval=batch_size)
            elif method == "integrated_gradients":
                a = attr.IntegratedGradients(forward).attribute(
                    xb, baselines=base, target=tb, n_steps=n_steps,
                    internal_batch_size=batch_size)
            else:
                a = attr.InputXGradient(forward).attribute(xb.requires_grad_(), target=tb)
            out[lo:lo + rows] = a.detach().float().cpu().numpy()
    return out


def _bin_frequencies(spec: SpectrogramTransformer, n_bins: int) -> np.ndarray:
    """Each output bin's centre in Hz; a resized image's rows are interpolated."""
    freqs = np.asarray(spec.frequencies(), dtype=np.float64)
    if len(freqs) == n_bins:
        return freqs
    return np.interp(np.linspace(0, len(freqs) - 1, n_bins), np.arange(len(freqs)), freqs)


def prediction_text(explanation, i: int) -> str:
    """Song ``i``'s prediction in words, as ``songpop predict`` states it.

    For a classifier, the predicted class and the positive (last) class's
    score, whichever class the attributions explain; for a regressor, the value.

    Parameters
    ----------
    explanation : Bunch
        From :func:`explain`.
    i : int
        The song.

    Returns
    -------
    str
    """
    if explanation.targets is None:
        return f"predicted value {explanation.predictions[i]:.3f}"
    classes = explanation.get("classes")
    target = explanation.targets[i]
    explained = float(explanation.predictions[i])
    if classes is None or len(classes) != 2:
        return f"predicted class {target!s} (score {explained:.3f})"
    positive = classes[-1]
    score = explained if target == positive else 1.0 - explained
    return f"predicted class {target!s} (score of {positive!s}: {score:.3f})"


def explanation_records(explanation, songs) -> list[dict]:
    """What :func:`explain` found, one JSON-ready record per song.

    Parameters
    ----------
    explanation : Bunch
        From :func:`explain`.
    songs : sequence of str
        The songs' names or paths.

    Returns
    -------
    list of dict
        ``song``, ``prediction`` (:func:`prediction_text`), ``target``,
        ``output`` (the explained output), ``novelty`` (distance scale, or
        None), ``interval_starts_s``, ``interval_outputs`` and
        ``strongest_cell`` (``interval``, ``hz`` and ``seconds`` of the cell
        that raises the output most).
    """
    from sklearn_songpop._json import to_json_types

    records = []
    for i, song in enumerate(songs):
        attr = explanation.attributions[i]
        j, b, t = np.unravel_index(int(np.argmax(attr)), attr.shape)
        records.append({
            "song": str(song), "prediction": prediction_text(explanation, i),
            "target": (None if explanation.targets is None
                       else to_json_types(explanation.targets[i])),
            "output": float(explanation.predictions[i]),
            "novelty": (None if explanation.novelty is None
                        else round(float(explanation.novelty_distance[i]), 3)),
            "interval_starts_s": [round(float(x), 3) for x in explanation.starts[i]],
            "interval_outputs": [round(float(x), 4)
                                 for x in explanation.interval_predictions[i]],
            "strongest_cell": {
                "interval": int(j), "hz": round(float(explanation.frequencies[b]), 1),
                "seconds": round(float(explanation.starts[i][j] + explanation.times[t]), 2)},
        })
    return records
