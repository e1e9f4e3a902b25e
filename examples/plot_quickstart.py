"""
Quick start: from waveforms to popularity scores
================================================

The whole method is a scikit-learn pipeline of three steps. Here it is fitted
on generated songs and scored on songs by artists it has never heard.
"""

# %%
# Generate songs
# --------------
# 22% of the songs are popular, as in the seed paper's data (176 of 803).
# Songs by the same artist share a style; ``groups`` says who sang what.
import numpy as np
from sklearn.model_selection import GroupShuffleSplit

from sklearn_songpop import make_songpop_pipeline, make_songs

songs = make_songs(n_songs=80, n_artists=16, duration=10.0, random_state=0)
X, y, groups = np.stack(songs.waveforms), songs.y, songs.groups
print(X.shape, f"{y.mean():.0%} popular")

# %%
# Split by artist
# ---------------
# No artist has songs on both sides, so the test songs are truly new.
train, test = next(GroupShuffleSplit(test_size=0.25, random_state=0).split(X, y, groups))

# %%
# Fit the default preset
# ----------------------
# Three 3-second intervals per song, log-mel spectrograms, a compact CNN with
# balanced class weights and early stopping on a song-level validation split.
pipe = make_songpop_pipeline("default", random_state=0)
pipe.fit(X[train], y[train])
pipe  # noqa: B018 - shows the pipeline's diagram

# %%
# Score the new songs
# -------------------
# ``predict_proba`` gives one row per song: the mean of its intervals.
from sklearn.metrics import balanced_accuracy_score, roc_auc_score

proba = pipe.predict_proba(X[test])[:, 1]
print(f"balanced accuracy {balanced_accuracy_score(y[test], proba > 0.5):.2f}, "
      f"ROC AUC {roc_auc_score(y[test], proba):.2f}")

# %%
# What the network saw
# --------------------
# The intermediate arrays keep one row per song from the first step to the last.
intervals = pipe.named_steps["intervals"].transform(X[test][:2])
spectrograms = pipe.named_steps["spectrogram"].transform(intervals)
print(intervals.shape, "->", spectrograms.shape)

import matplotlib.pyplot as plt

from sklearn_songpop.plotting import plot_training_curves

plot_training_curves(pipe.named_steps["classifier"])
plt.title("Training and validation loss")
plt.show()
