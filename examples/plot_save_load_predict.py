"""
Saving, loading and predicting new files
========================================

A fitted pipeline is saved with joblib (a pickle) or, to share it with people
who should not run your code, as JSON settings and a weights file.
"""

# %%
# Songs on disk, as a user has them
# ---------------------------------
import tempfile
from pathlib import Path

from sklearn_songpop import load_manifest, make_songpop_pipeline, make_songs, write_songs

folder = Path(tempfile.mkdtemp())
manifest = write_songs(make_songs(n_songs=40, n_artists=8, duration=8.0, random_state=0),
                       folder / "songs", format=("mp3", "m4a"))
data = load_manifest(manifest)
print(manifest.read_text().splitlines()[:3])

# %%
# Fit on the files and save
# -------------------------
from sklearn_songpop import load_model, save_model, save_portable

pipe = make_songpop_pipeline("default", random_state=0).fit(data.paths, data.y)
save_model(pipe, folder / "model.joblib")  # a pickle: load only files you trust
save_portable(pipe, folder / "portable")  # settings.json + weights.pt: runs no code
print(sorted(p.name for p in (folder / "portable").iterdir()))

# %%
# Load and predict new songs
# --------------------------
# New files can have any length, rate and channel count; the sampler cuts the
# same three 3-second intervals from each.
from sklearn_songpop import load_portable

new = write_songs(make_songs(n_songs=4, n_artists=2, duration=15.0, random_state=5),
                  folder / "new", format="mp3")
paths = load_manifest(new).paths
for model in (load_model(folder / "model.joblib"), load_portable(folder / "portable")):
    print([f"{p:.2f}" for p in model.predict_proba(paths)[:, 1]])

# %%
# A model trained on a GPU
# ------------------------
# ``load_model`` works on a machine without CUDA: skorch maps the tensors to the
# CPU and warns once. The portable format stores CPU tensors to begin with.
