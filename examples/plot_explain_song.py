"""
Explaining one song: interval timeline and spectrograms
=======================================================

A song's score is the mean of its intervals' scores. Scoring evenly spaced
intervals along the whole song shows which parts sound like a hit.
"""

# %%
# Fit a model
# -----------
import numpy as np

from sklearn_songpop import make_songpop_pipeline, make_songs, window_starts

songs = make_songs(n_songs=120, n_artists=20, duration=12.0, random_state=0)
X, y = np.stack(songs.waveforms), songs.y
pipe = make_songpop_pipeline("default", random_state=0).fit(X[10:], y[10:])

# %%
# Score every part of a held-out song
# -----------------------------------
# The fitted classifier takes any number of intervals per song, so a sampler
# with eight evenly spaced windows of the preset's length (6 seconds, so they
# overlap on this 12-second song) feeds the same fitted spectrogram step and
# network. Each window's score is the mean over the 3-second crops that tile it.
from sklearn_songpop import IntervalSampler

held_out_popular = np.flatnonzero(y[:10] == 1)
song = int(held_out_popular[0]) if held_out_popular.size else 0
length = pipe.named_steps["intervals"].duration
timeline = IntervalSampler(n_intervals=8, duration=length, strategy="even")
windows = timeline.fit_transform(X[song:song + 1])
spectrograms = pipe.named_steps["spectrogram"].transform(windows)
proba = pipe.named_steps["classifier"].predict_interval_proba(spectrograms)[0, :, 1]
starts = window_starts(len(X[song]) / songs.sr, 8, length, "even")

# %%
# The timeline
# ------------
import matplotlib.pyplot as plt

from sklearn_songpop.plotting import plot_interval_timeline, plot_spectrogram

fig, ax = plt.subplots(figsize=(7, 3))
plot_interval_timeline(starts, proba, length, ax=ax)
ax.set_title(f"song {song}: labelled {'popular' if y[song] else 'not popular'}")
fig.tight_layout()
plt.show()

# %%
# The most and least hit-like windows
# -----------------------------------
spec = pipe.named_steps["spectrogram"]
fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
for ax, j, title in [(axes[0], int(proba.argmax()), "most"), (axes[1], int(proba.argmin()),
                                                             "least")]:
    plot_spectrogram(spectrograms[0, j], spec, ax=ax)
    ax.set_title(f"{title} hit-like: from {starts[j]:.1f} s, P = {proba[j]:.2f}")
fig.tight_layout()
plt.show()
