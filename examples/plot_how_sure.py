"""
How sure: calibrated probabilities and conformal sets by artist
===============================================================

A model's scores rank songs, but they are not frequencies: a score of 0.6
does not mean six songs in ten like this one become hits. This example
measures how far off the scores are, calibrates them on artists the model
never heard, and adds conformal sets of labels that hold a new artist's
truth at a stated rate. The model is a logistic regression on log-mel band
statistics, fast enough for a gallery; the same wrappers take the default
network (``make_songpop_pipeline(calibrate=True, conformal=0.1)``).
"""

# %%
# Songs, labels and artists
# -------------------------
# The features (log-mel band statistics) learn nothing from the labels, so
# they are computed once. Balanced class weights, as the default network
# uses, push the scores towards the rarer class.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.calibration import CalibrationDisplay
from sklearn.model_selection import GroupShuffleSplit

from sklearn_songpop import (
    ArtistCalibratedClassifier,
    ConformalClassifier,
    IntervalSampler,
    make_baselines,
    make_songs,
)
from sklearn_songpop.metrics import expected_calibration_error

songs = make_songs(n_songs=400, n_artists=80, duration=8.0, random_state=0)
intervals = IntervalSampler(duration=2.0, random_state=0).fit_transform(
    np.stack(songs.waveforms))
baseline = make_baselines(random_state=0)["log-mel band statistics"]
X = baseline[:-1].fit_transform(intervals)
y, artists = songs.y, songs.groups
model = baseline[-1].set_params(class_weight="balanced")

# a quarter of the artists never reach training: they stand for the new artists
splits = list(GroupShuffleSplit(n_splits=10, test_size=0.25, random_state=0)
              .split(X, y, artists))

# %%
# Scores against calibrated probabilities
# ---------------------------------------
# The calibrated model learns its map from out-of-fold scores, in folds that
# keep each artist whole: the situation of every new artist it will score.
raw, calibrated, truth = [], [], []
for fit, new in splits:
    raw.append(model.fit(X[fit], y[fit]).predict_proba(X[new])[:, 1])
    calibrated.append(ArtistCalibratedClassifier(model, random_state=0)
                      .fit(X[fit], y[fit], groups=artists[fit]).predict_proba(X[new])[:, 1])
    truth.append(y[new])
raw, calibrated, truth = map(np.concatenate, (raw, calibrated, truth))
for name, p in (("scores", raw), ("calibrated", calibrated)):
    print(f"{name:>10}: expected calibration error "
          f"{expected_calibration_error(truth, p):.3f}, mean {p.mean():.2f} "
          f"(share of hits {truth.mean():.2f})")

fig, ax = plt.subplots(figsize=(5, 4.5))
for name, p in (("scores", raw), ("calibrated", calibrated)):
    CalibrationDisplay.from_predictions(truth, p, n_bins=10, strategy="quantile", name=name,
                                        ax=ax)
ax.set_title("New artists, 10 splits: predicted against observed")

# %%
# Conformal sets
# --------------
# The conformal model holds out a quarter of its training artists to learn
# how wrong the calibrated model is; for each new song it returns the labels
# that are plausible at level ``1 - alpha``. A set of both labels says the
# model cannot tell at that level. The promise holds on average over which
# artists calibrate and which are new, so it is measured over the splits:
# one split of twenty artists can land well above or below it.
for alpha in (0.1, 0.2):
    covered, sizes = [], []
    for i, (fit, new) in enumerate(splits):
        conformal = ConformalClassifier(ArtistCalibratedClassifier(model, random_state=0),
                                        alpha=alpha, random_state=i)
        sets = conformal.fit(X[fit], y[fit], groups=artists[fit]).predict_set(X[new])
        covered.append(sets[np.arange(len(new)), y[new]].mean())
        sizes.append(sets.sum(axis=1).mean())
    print(f"alpha {alpha}: the set held the true label for {np.mean(covered):.0%} of the new "
          f"artists' songs (from {min(covered):.0%} to {max(covered):.0%} by split), "
          f"{np.mean(sizes):.2f} labels a set on average")
print(f"each model was calibrated on {conformal.n_calibration_groups_} artists: the smallest "
      f"alpha it can promise is 1/{conformal.n_calibration_groups_ + 1}")
