"""
Popularity as a number, scored forward in time
==============================================

A model that will rank next year's songs should be judged on songs released
after everything it learned from. When the sound of the hits moves over the
years, a shuffled split flatters it.
"""

# %%
# Songs with a number, a year, and a drift
# ----------------------------------------
# ``make_songs`` gives every song a ``popularity`` (on the scale of
# log-streams; the popular songs are its top 22%) and a release ``year``. With
# ``drift=1.0`` the hook of a hit moves an octave down and from a bright square
# wave towards a plain tone between the first year and the last.
import numpy as np
from sklearn.model_selection import GroupKFold, KFold

from sklearn_songpop import evaluate, make_baselines, make_songpop_pipeline, make_songs

songs = make_songs(n_songs=300, n_artists=30, duration=10.0, drift=1.0, random_state=0)
years, counts = np.unique(songs.year, return_counts=True)
print("songs per year:", dict(zip(years.tolist(), counts.tolist())))

# %%
# A model of the number, its songs decoded once
# ---------------------------------------------
# ``make_songpop_pipeline(task="regression")`` ends with a
# :class:`~sklearn_songpop.SpectrogramCNNRegressor`; its sampler is used here
# to decode the songs once (it learns nothing in ``fit``, so this leaks
# nothing). To keep the example to seconds, the model scored is the ridge
# regression on log-mel band statistics that :func:`~sklearn_songpop.evaluate`
# uses as a baseline; the regression benchmark scores the CNN the same way.
intervals = make_songpop_pipeline(task="regression", random_state=0)[0].fit_transform(
    np.stack(songs.waveforms))
ridge = make_baselines(task="regression")["log-mel band statistics"]

# %%
# Three ways to split
# -------------------
# Shuffled songs, songs grouped by artist, and forward in time: given
# ``times``, :func:`~sklearn_songpop.evaluate` also scores every model with
# :class:`~sklearn_songpop.ReleaseYearSplit`, which trains on the years before
# each of the last three and tests on that year. The report prints both.
shuffled = evaluate(ridge, intervals, songs.popularity, name="ridge",
                    cv=KFold(5, shuffle=True, random_state=0))
by_artist = evaluate(ridge, intervals, songs.popularity, groups=songs.groups,
                     cv=GroupKFold(5), times=songs.year, name="ridge")
print(by_artist)

# %%
# One model, three splits
# -----------------------
# Spearman's rho of each test fold (how well the songs it was tested on are
# ranked), the mean over folds as a bar. The gap between the shuffled bar and
# the one by artist is the artists leaking; the forward evaluation also meets
# hits whose sound it has not heard. It is the number to trust for next
# year's songs.
import matplotlib.pyplot as plt

splits = {"shuffled": shuffled, "by artist": by_artist, "forward in time": by_artist.forward}
rho = [result.scores["ridge"]["spearman"] for result in splits.values()]
spread = [np.std(result.fold_scores["ridge"]["spearman"]) for result in splits.values()]
for label, value in zip(splits, rho):
    print(f"{label:>16}: Spearman rho {value:.3f}")
plt.figure(figsize=(5.5, 3.5))
plt.bar(list(splits), rho, yerr=spread, capsize=4, color=["C0", "C1", "C3"])
plt.axhline(0, color="k", linewidth=0.8)
plt.ylabel("Spearman rho (mean over folds)")
plt.title("ridge on log-mel band statistics, drift=1.0")
plt.tight_layout()
plt.show()
