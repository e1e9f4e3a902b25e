"""
Grid search by artist, and the leak of a plain KFold
====================================================

Songs by one artist sound alike. A split that lets an artist's songs reach
both train and test rewards recognising the artist, not the hit.
"""

# %%
# Songs, labels and artists
# -------------------------
import numpy as np
from sklearn.model_selection import GridSearchCV, GroupKFold, StratifiedKFold

from sklearn_songpop import make_baselines, make_songs
from sklearn_songpop.intervals import IntervalSampler

songs = make_songs(n_songs=120, n_artists=12, duration=8.0, random_state=0)
X, y, groups = np.stack(songs.waveforms), songs.y, songs.groups

# %%
# Decode the intervals once
# -------------------------
# The sampler learns nothing in ``fit``, so decoding before the search leaks
# nothing. The model searched here is the log-mel baseline: a spectrogram,
# per-band statistics and a logistic regression, fast enough to search widely.
intervals = IntervalSampler(random_state=0).fit_transform(X)
model = make_baselines()["log-mel band statistics"]
grid = {"spectrogramtransformer__n_mels": [32, 64], "logisticregression__C": [0.01, 0.1, 1.0]}

# %%
# The same search, two splitters
# ------------------------------
by_artist = GridSearchCV(model, grid, cv=GroupKFold(4), scoring="roc_auc")
by_artist.fit(intervals, y, groups=groups)
mixed = GridSearchCV(model, grid, cv=StratifiedKFold(4, shuffle=True, random_state=0),
                     scoring="roc_auc")
mixed.fit(intervals, y)
print(f"GroupKFold by artist: best ROC AUC {by_artist.best_score_:.3f}")
print(f"StratifiedKFold     : best ROC AUC {mixed.best_score_:.3f}")

# %%
# Every candidate, both ways
# --------------------------
# The mixed split scores every candidate higher: that difference is the
# artists leaking, and it would have been reported as skill.
import matplotlib.pyplot as plt

labels = [f"mels={p['spectrogramtransformer__n_mels']}, C={p['logisticregression__C']}"
          for p in by_artist.cv_results_["params"]]
pos = np.arange(len(labels))
plt.figure(figsize=(7, 3.5))
plt.barh(pos - 0.2, mixed.cv_results_["mean_test_score"], height=0.4, label="StratifiedKFold")
plt.barh(pos + 0.2, by_artist.cv_results_["mean_test_score"], height=0.4,
         label="GroupKFold by artist")
plt.yticks(pos, labels)
plt.xlabel("mean ROC AUC")
plt.legend(loc="lower right")
plt.tight_layout()
plt.show()

# %%
# The full pipeline searches the same way
# ---------------------------------------
# ``GridSearchCV(make_songpop_pipeline(), {"spectrogram__n_mels": [...],
# "classifier__lr": [...]}, cv=GroupKFold(5)).fit(paths, y, groups=artists)``
# searches the network too; pass ``memory=`` to the pipeline to decode each
# fold once.
