"""
Audio and metadata in one model
===============================

A catalogue knows more than the audio: the artist's following, the record
label, the genre. This example puts musicnn's pretrained embedding of the audio
beside such columns in one scikit-learn ``ColumnTransformer``, and compares,
on the same folds by artist, what each part predicts alone and together, with
the log-mel baseline and the majority class beside them.

The songs are generated (``make_songs(metadata=True)``): the following and
the record label carry part of the hit signal, the genre and the track number
none. musicnn learned its tags from real music, which generated songs are not,
so read this as a recipe, not as a verdict on musicnn.
"""

# %%
# A catalogue as a DataFrame
# --------------------------
# One row per song: its audio (a waveform here; a path works the same way, and
# ``load_manifest(..., as_frame=True)`` gives such a frame from a CSV), and its
# metadata.
import numpy as np
import pandas as pd

from sklearn_songpop import make_songs

songs = make_songs(n_songs=120, n_artists=24, duration=12.0, metadata=True,
                   random_state=0)
frame = pd.DataFrame({"audio": list(songs.waveforms), **songs.metadata})
y, artists = songs.y, songs.groups
frame.drop(columns="audio").head()

# %%
# One model over both
# -------------------
# The audio branch is the ``"musicnn"`` preset's front end: three 3-second
# intervals of each song (read at the songs' 22,050 Hz) and the frozen
# embedding, which resamples to musicnn's 16 kHz. The metadata branch encodes
# the categories and takes the log of the following.
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from sklearn_songpop import IntervalSampler, MusicnnEmbedding

audio = make_pipeline(IntervalSampler(n_intervals=3, duration=3.0, sr=songs.sr,
                                      random_state=0),
                      MusicnnEmbedding(sr=songs.sr))
metadata = ColumnTransformer([
    ("labels", OneHotEncoder(handle_unknown="ignore"), ["record_label", "genre"]),
    ("followers", FunctionTransformer(np.log1p), ["followers"]),
    ("track", "passthrough", ["track_number"]),
])
both = make_pipeline(
    ColumnTransformer([("audio", audio, "audio"), ("metadata", metadata, list(songs.metadata))]),
    StandardScaler(),
    LogisticRegression(C=0.1, class_weight="balanced", max_iter=5000),
)
both.fit(frame, y)

# %%
# The same folds for every model
# ------------------------------
# Nothing in the embedding is learned from the songs, so it is the same in
# every fold: compute it once, and cross-validate the heads on it (a
# ``Pipeline(memory=...)`` does the same for one training set at a time).
from sklearn.dummy import DummyClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold, cross_val_predict

from sklearn_songpop import make_baselines

embedded = audio.fit_transform(frame["audio"])
names = [f"e{i}" for i in range(embedded.shape[1])]
table = pd.concat([pd.DataFrame(embedded, columns=names), frame.drop(columns="audio")],
                  axis=1)


def head(columns):
    parts = [("audio", "passthrough", names)] if "audio" in columns else []
    parts += [("metadata", metadata, list(songs.metadata))] if "metadata" in columns else []
    return make_pipeline(ColumnTransformer(parts), StandardScaler(),
                         LogisticRegression(C=0.1, class_weight="balanced", max_iter=5000))


windows = IntervalSampler(n_intervals=3, duration=6.0, sr=songs.sr,
                          random_state=0).fit_transform(frame["audio"])
models = {
    "musicnn embedding": (head(["audio"]), table),
    "metadata": (head(["metadata"]), table),
    "embedding + metadata": (head(["audio", "metadata"]), table),
    "log-mel baseline": (make_baselines(random_state=0)["log-mel band statistics"], windows),
    "majority class": (DummyClassifier(), table),
}
cv = StratifiedGroupKFold(5, shuffle=True, random_state=0)
auc = {}
for name, (model, X) in models.items():
    proba = cross_val_predict(model, X, y, groups=artists, cv=cv,
                              method="predict_proba")[:, 1]
    auc[name] = roc_auc_score(y, proba)
    print(f"{name:22s} ROC AUC {auc[name]:.3f}")

# %%
# What each part adds
# -------------------
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(6, 3))
ax.barh(list(auc)[::-1], list(auc.values())[::-1], color="tab:blue")
ax.axvline(0.5, color="grey", lw=1, ls="--")
ax.set_xlim(0, 1)
ax.set_xlabel("ROC AUC, out of fold (folds by artist)")
fig.tight_layout()
plt.show()

# %%
# On your own catalogue, replace ``frame`` by ``load_manifest("songs.csv",
# as_frame=True).frame`` and the ``"audio"`` column by its ``"path"`` column;
# ``HistGradientBoostingClassifier`` is a good head when the metadata holds
# many columns or interactions. The user guide's "Pretrained music knowledge"
# section says when the embedding beats a network trained on your own songs.
