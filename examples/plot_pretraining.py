"""
Learning from unlabelled songs
==============================

Labels are scarce, songs are not. A :class:`~sklearn_songpop.ContrastiveEncoder`
learns song embeddings from audio alone; a linear model on those embeddings,
or a network started from the encoder, then learns from the few labelled songs.
"""

# %%
# Songs, most of them unlabelled
# ------------------------------
# Twelve artists. The songs of four of them are the test set; the songs of the
# other eight are the pool, of which only 30 are labelled. In practice the pool
# is a catalogue, and the labels a chart.
import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from sklearn_songpop import make_probe, make_songpop_pipeline, make_songs

songs = make_songs(n_songs=240, n_artists=12, duration=10.0, random_state=3)
waves, y, artists = np.stack(songs.waveforms), songs.y, np.asarray(songs.groups)
test_artists = np.unique(artists)[:4]
test = np.flatnonzero(np.isin(artists, test_artists))
pool = np.flatnonzero(~np.isin(artists, test_artists))
labelled = train_test_split(pool, train_size=30, stratify=y[pool], random_state=0)[0]
print(f"{len(pool)} songs in the pool, {len(labelled)} of them labelled; {len(test)} test songs")

# %%
# Pretraining on the pool, labels unread
# --------------------------------------
# ``make_songpop_pipeline(task="pretraining")`` is the default preset's front end
# with a :class:`~sklearn_songpop.ContrastiveEncoder` at the end: two intervals
# of one song are a positive pair, the other songs of a batch the negatives.
# The front end learns nothing, so its spectrograms are computed once here.
# The preset trains two encoders from different seeds and keeps the one whose
# loss ends lower (``n_init=2``); one start and fewer epochs keep this example
# short.
pretraining = make_songpop_pipeline(task="pretraining", random_state=0,
                                    encoder__max_epochs=25, encoder__n_init=1)
X = pretraining[:-1].fit_transform(waves)
encoder = pretraining[-1].fit(X[pool])
print(f"contrastive loss: {encoder.history_[0, 'train_loss']:.2f} in the first epoch, "
      f"{encoder.history_[-1, 'train_loss']:.2f} in the last")

# %%
# A linear probe against a network trained from scratch
# -----------------------------------------------------
# :func:`~sklearn_songpop.make_probe` puts a logistic regression on the frozen
# encoder's embeddings; inside ``cross_validate`` or ``GridSearchCV`` only the
# regression is refitted. The network from scratch sees the same 30 songs.
probe = make_probe(encoder, random_state=0).fit(X[labelled], y[labelled])
scratch = make_songpop_pipeline(random_state=0)[-1].fit(X[labelled], y[labelled])
tuned = make_songpop_pipeline(random_state=0, classifier__init_from=encoder)[-1]
tuned.fit(X[labelled], y[labelled])
for name, model in (("linear probe on the embeddings", probe), ("network from scratch", scratch),
                    ("network started from the encoder", tuned)):
    auc = roc_auc_score(y[test], model.predict_proba(X[test])[:, 1])
    print(f"{name:34s} ROC AUC on the test artists {auc:.3f}")

# %%
# What the embeddings hold
# ------------------------
# A 2-D projection (PCA) of the test songs' embeddings, which the encoder never
# saw, coloured by artist; circles are popular songs. Nothing told the encoder
# who sang what: songs of an artist land together because they share a sound.
# The popular songs stand apart from their artist's cluster, all in one
# direction: their hook moved them, and that direction is what the linear
# probe learns from the labelled songs.
import matplotlib.pyplot as plt
from sklearn.decomposition import PCA

E = encoder.transform(X[test])
xy = PCA(n_components=2, random_state=0).fit_transform((E - E.mean(0)) / (E.std(0) + 1e-8))
fig, ax = plt.subplots(figsize=(6, 4.5))
for i, artist in enumerate(test_artists):
    mine = artists[test] == artist
    ax.scatter(*xy[mine & (y[test] == 0)].T, s=14, color=f"C{i}", label=str(artist))
    ax.scatter(*xy[mine & (y[test] == 1)].T, s=60, facecolors="none", edgecolors=f"C{i}")
ax.set(xlabel="first principal component", ylabel="second principal component",
       title="Embeddings of the test songs, by artist (circles: popular)")
ax.legend(title="artist", fontsize="small")
fig.tight_layout()
plt.show()
