"""
Learning curve: how many songs the network needs
================================================

With a few hundred labelled songs a network can lose to a logistic regression
on band statistics, and two seeds can disagree. This example draws the song-level
ROC AUC of the default preset against the number of songs, with the log-mel
baseline on the same folds (by artist) and the spread over two training seeds.
"""

# %%
# Songs, and the front end computed once
# --------------------------------------
# The interval sampler and the spectrogram learn nothing in ``fit``, so each set
# of songs is decoded and transformed once, before cross-validation, without a
# leak. To keep the example quick the songs are 12 seconds long and the network
# trains 10 epochs (the preset trains 25); ``python -m benchmarks --only
# learning_curve`` runs the full recipe on up to 400 songs.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupKFold, cross_val_predict

from sklearn_songpop import make_baselines, make_songpop_pipeline, make_songs

sizes, seeds = (40, 80, 160), (0, 1)
pipe = make_songpop_pipeline("default", random_state=0, classifier__max_epochs=10)
baseline = make_baselines(random_state=0)["log-mel band statistics"]
curve = {"default preset": [], "log-mel baseline": []}


def oof_auc(model, X, songs):
    """Song-level ROC AUC of out-of-fold probabilities, GroupKFold(4) by artist."""
    proba = cross_val_predict(model, X, songs.y, groups=songs.groups, cv=GroupKFold(4),
                              method="predict_proba")[:, 1]
    return roc_auc_score(songs.y, proba)


for n in sizes:
    songs = make_songs(n_songs=n, n_artists=n // 8, duration=12.0, random_state=1)
    windows = pipe[0].fit_transform(np.stack(songs.waveforms))
    spectrograms = pipe[1].fit_transform(windows)
    curve["default preset"].append(
        [oof_auc(clone(pipe[-1]).set_params(random_state=s), spectrograms, songs)
         for s in seeds])
    curve["log-mel baseline"].append([oof_auc(baseline, windows, songs)])
    print(f"{n:4d} songs: default {np.mean(curve['default preset'][-1]):.3f}, "
          f"baseline {curve['log-mel baseline'][-1][0]:.3f}")

# %%
# ROC AUC against the number of songs
# -----------------------------------
# Each point of the default preset is the mean over the training seeds, and its
# bar spans them; the baseline is deterministic. An AUC of 0.5 is what the
# majority class (or any constant) scores.
plt.figure(figsize=(6, 3.8))
for name, marker in (("default preset", "o"), ("log-mel baseline", "s")):
    values = np.array([np.mean(v) for v in curve[name]])
    spread = np.array([[np.mean(v) - min(v), max(v) - np.mean(v)] for v in curve[name]]).T
    plt.errorbar(sizes, values, yerr=spread, marker=marker, capsize=4, label=name)
plt.axhline(0.5, color="grey", linestyle=":", label="majority class")
plt.xticks(sizes, [str(n) for n in sizes])
plt.xlabel("songs (GroupKFold(4) by artist)")
plt.ylabel("song-level ROC AUC")
plt.legend(loc="lower right")
plt.tight_layout()
plt.show()

# %%
# What the default does on few songs
# ----------------------------------
# Every epoch trains on a new 3-second crop of each 6-second interval, with
# random bands and frames masked; a song is predicted from crops tiling all of
# its intervals. With fewer than 25 songs of the rarer class for validation the
# network trains every epoch on all songs under a cosine learning-rate schedule,
# and keeps the last: a split that small would choose the epoch by chance. The
# user guide's section on small data gives the full learning curve.
