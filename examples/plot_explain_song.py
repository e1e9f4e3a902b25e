"""
Explaining one song: where in the song, which sounds, and how new
=================================================================

A song's score is the mean of its intervals' scores. Scoring evenly spaced
intervals along the whole song shows which parts sound like a hit; occluding
patches of each interval's spectrogram shows which sounds the score rests on;
and the novelty score says whether the model has heard anything like the song.
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

# %%
# Which sounds the score rests on
# -------------------------------
# :func:`~sklearn_songpop.explain` runs the song through the fitted pipeline
# and, with Captum, hides one patch of 4 mel bands by 1 second at a time
# (set to the interval's mean level), recording how much the song's
# probability drops. Red cells hold up the predicted class; blue ones pull
# against it. Above them, each of the pipeline's own three intervals along the
# song.
from sklearn_songpop import explain
from sklearn_songpop.plotting import plot_explanation

why = explain(pipe, X[song:song + 1])
fig = plot_explanation(why)
plt.show()

# %%
# Each patch spans 4 mel bands, so the attributions come in strips of 4; the
# strips that carry the most weight, over the three intervals:
weight = np.abs(why.attributions[0]).sum(axis=(0, 2)).reshape(-1, 4).sum(axis=1)
for strip in np.argsort(weight)[::-1][:3]:
    low, high = why.frequencies[4 * strip], why.frequencies[4 * strip + 3]
    print(f"{low:6.0f} to {high:6.0f} Hz: {weight[strip] / weight.sum():.1%} of the attribution")

# %%
# How new is it?
# --------------
# The network kept the embeddings of its training songs; ``novelty`` is the
# share of them lying closer to their own neighbours than the song lies to
# its. Training songs read low (an odd one out among them reads higher), new
# songs higher, the more so when their artist is new to the model (a training
# song has siblings by its own artist among its neighbours), and noise lies
# further out than every training song.
rng = np.random.default_rng(0)
noise = 0.1 * rng.standard_normal((3, X.shape[1])).astype(np.float32)
clf = pipe.named_steps["classifier"]
for name, audio in [("training songs", X[10:]), ("held-out songs", X[:10]),
                    ("white noise", noise)]:
    novelty = clf.novelty(pipe[:-1].transform(audio))
    print(f"{name:>14}: median novelty {np.median(novelty):.2f} over {len(novelty)}")
