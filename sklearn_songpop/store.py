"""The on-disk feature store: spectrograms of very many songs, written chunk by chunk.

A store is a Zarr (v3) group on disk. ``spectrograms`` holds ``(n_songs, k,
n_bins, n_frames)`` in chunks of ``chunk_songs`` songs; ``status`` says of each
song whether it is written (1) or failed to decode (2); ``done`` marks each
finished chunk, written last, so a run that was killed starts again where it
stopped and rewrites only unfinished chunks. The attributes hold the song ids,
labels, groups and the exact front-end settings; the reasons for failed songs
lie beside the arrays, one small JSON file per chunk. Memory stays bounded by
one chunk of songs, whatever their number.
"""

from __future__ import annotations

import json
import mmap
import os
import pickle
import threading
from collections import OrderedDict
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch
from joblib import Parallel, delayed, effective_n_jobs, parallel_config
from sklearn.base import clone

from sklearn_songpop._json import to_json_types
from sklearn_songpop.audio import AudioError

__all__ = ["ChunkShuffleSampler", "FeatureStore", "StoreDataset", "store_items",
           "store_layout", "write_features"]

#: The ``format`` attribute of every store this version writes.
STORE_FORMAT = "sklearn_songpop feature store 1"


def _probe() -> list[np.ndarray]:
    """A silent minute at any common rate: long enough for every window of any preset.

    Made anew on each call: a module-level array would travel with every job that
    Dask pickles by value.
    """
    return [np.zeros(48000 * 60, dtype=np.float32)]


#: Parameters that say how a step runs, not what it computes: not recorded or compared.
_HOW_NOT_WHAT = frozenset({"n_jobs", "verbose", "device", "batch_size"})


def _zarr():
    try:
        import zarr
    except ImportError as exc:  # an optional dependency: pip install "sklearn-songpop[store]"
        raise ImportError(
            "the feature store needs zarr >= 3 (Python >= 3.11): pip install "
            "'sklearn-songpop[store]'"
        ) from exc
    return zarr


def front_end_settings(front_end) -> dict:
    """Each step's class and parameters, as the store records and compares them.

    Parameters
    ----------
    front_end : Pipeline
        The steps before the network (the sampler and the spectrogram step).

    Returns
    -------
    dict
        ``{step name: {"class": ..., "params": {...}}}``, leaving out the
        parameters that say how a step runs (``n_jobs``, ``verbose``,
        ``device``, ``batch_size``), not what it computes.
    """
    return {name: {"class": type(step).__name__,
                   "params": to_json_types({k: v for k, v in step.get_params().items()
                                            if k not in _HOW_NOT_WHAT}, fallback=repr)}
            for name, step in front_end.steps}


def _song_ids(songs) -> list[str]:
    ids = []
    for i, song in enumerate(songs):
        if isinstance(song, str | bytes | os.PathLike):
            ids.append(os.fsdecode(song))
        else:
            ids.append(f"waveform {i}")
    return ids


def write_features(
    songs,
    store: str | os.PathLike,
    front_end,
    *,
    y=None,
    groups=None,
    chunk_songs: int = 64,
    dtype: str = "float16",
    compression: str | None = None,
    on_error: str = "stop",
    n_jobs: int | None = None,
    verbose: int = 0,
) -> FeatureStore:
    """Run the front end over the songs chunk by chunk and append to an on-disk store.

    Started again on a store that a killed run left behind (same songs, same
    settings), it computes only the chunks not marked done; the result equals
    an uninterrupted run.

    Parameters
    ----------
    songs : sequence of paths or of 1-D waveforms
        The songs, as the front end takes them.
    store : str or os.PathLike
        The folder of the Zarr store; created when missing.
    front_end : Pipeline
        The steps before the network, e.g. ``make_songpop_pipeline(preset)[:-1]``
        (they learn nothing, so they are cloned and fitted here).
    y, groups : array-like of shape (n_songs,) or None, default=None
        Labels (or numbers) and groups (artists), kept in the store's metadata.
    chunk_songs : int, default=64
        Songs per chunk: what one step holds in memory and writes at once.
    dtype : {"float16", "float32"}, default="float16"
        Type of the stored spectrograms; float16 halves the disk and keeps
        dB values to about 0.03 dB.
    compression : {None, "lz4", "zstd"}, default=None
        How the chunks are compressed. None stores them as they are, and
        training maps them into memory instead of reading them: on two cores
        a trivial network then trained from the store at 0.98 times its
        speed from memory, against 0.78 times with ``"lz4"`` (``python -m
        benchmarks --only feeding``). ``"lz4"`` (Blosc's LZ4 on shuffled
        bytes) makes the store about 1.38 times smaller, for slow or shared
        disks; ``"zstd"`` (Zarr's default) 1.24 times. A store that is being
        finished keeps the compression it was started with.
    on_error : {"stop", "skip"}, default="stop"
        A song that fails to decode: ``"stop"`` raises an
        :class:`~sklearn_songpop.audio.AudioError` naming it (chunks already
        written stay, and a second run goes on from there); ``"skip"`` marks
        it failed, records its reason (:attr:`FeatureStore.failures`) and goes
        on.
    n_jobs : int or None, default=None
        Chunks computed at once, through joblib: each job decodes its chunk's
        songs, computes their spectrograms and writes them to the store
        itself, so only a chunk number and two counts travel back. ``None``
        is one at a time in this process unless an enclosing
        :func:`joblib.parallel_config` says otherwise; under
        ``parallel_config(backend="dask")`` it is every worker of the Dask
        cluster, which must then see the store's folder (a shared disk).
        With more than one job, each runs the front end in its own thread only.
    verbose : int, default=0
        Print a line per chunk when > 0.

    Returns
    -------
    FeatureStore

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from sklearn_songpop import make_songpop_pipeline, make_songs
    >>> songs = make_songs(n_songs=5, duration=8.0, random_state=0)
    >>> front = make_songpop_pipeline("default", random_state=0)[:-1]
    >>> fs = write_features(songs.waveforms, tempfile.mkdtemp() + "/s.zarr", front,
    ...                     y=songs.y, chunk_songs=2)
    >>> len(fs), fs[0:2].shape, fs[0:2].dtype
    (5, (2, 3, 64, 259), dtype('float32'))
    """
    zarr = _zarr()
    if on_error not in ("stop", "skip"):
        raise ValueError(f"on_error must be 'stop' or 'skip', got {on_error!r}")
    if dtype not in ("float16", "float32"):
        raise ValueError(f"dtype must be 'float16' or 'float32', got {dtype!r}")
    if compression not in _COMPRESSIONS:
        raise ValueError(f"compression must be None, 'lz4' or 'zstd', got {compression!r}")
    if isinstance(chunk_songs, bool) or not isinstance(chunk_songs, int | np.integer) \
            or chunk_songs < 1:
        raise ValueError(f"chunk_songs must be a positive integer, got {chunk_songs!r}")
    songs = list(songs)
    n = len(songs)
    if n == 0:
        raise ValueError("no songs to write (0 songs given)")
    for name, values in (("y", y), ("groups", groups)):
        if values is not None and len(values) != n:
            raise ValueError(f"{name} has {len(values)} entries for {n} songs")
    front = clone(front_end)  # unfitted: what each job carries
    alone = effective_n_jobs(n_jobs) > 1  # then each worker runs its chunk by itself
    with parallel_config(backend="sequential"):  # here, even under a Dask backend
        shape = _fitted(front).transform(_probe()).shape[1:]
    n_chunks = -(-n // chunk_songs)
    meta = {
        "format": STORE_FORMAT,
        "settings": front_end_settings(front_end),
        "ids": _song_ids(songs),
        "y": None if y is None else to_json_types(np.asarray(y).tolist(), fallback=repr),
        "groups": None if groups is None else to_json_types(np.asarray(groups).tolist(),
                                                            fallback=repr),
        "chunk_songs": int(chunk_songs),
        "dtype": dtype,
    }
    path = Path(store)
    root = zarr.open_group(str(path), mode="a")
    if "spectrograms" in root:
        _check_resumable(path, dict(root.attrs), meta)
    else:
        root.attrs.update(meta)
        root.create_array("spectrograms", shape=(n, *shape), chunks=(chunk_songs, *shape),
                          dtype=dtype, fill_value=0,
                          compressors=_compressors(zarr, compression, dtype))
        root.create_array("status", shape=(n,), chunks=(chunk_songs,), dtype="int8",
                          fill_value=0)
        root.create_array("done", shape=(n_chunks,), chunks=(1,), dtype="bool",
                          fill_value=False)
    todo = [c for c, finished in enumerate(root["done"][:]) if not finished]
    jobs = (delayed(_write_chunk)(
        str(path), c, chunk_songs, front, songs[c * chunk_songs:(c + 1) * chunk_songs],
        meta["ids"][c * chunk_songs:(c + 1) * chunk_songs], shape, on_error, dtype, alone)
        for c in todo)
    results = Parallel(n_jobs=n_jobs, return_as="generator_unordered")(jobs)
    for count, (c, written, failed) in enumerate(results, start=1):
        if verbose:
            lo = c * chunk_songs
            print(f"chunk {c + 1}/{n_chunks} ({count}/{len(todo)} this run): songs "
                  f"{lo}-{lo + written + failed - 1}" + (f", {failed} failed" if failed else ""),
                  flush=True)
    return FeatureStore(path)


#: The ``compression`` values of :func:`write_features`.
_COMPRESSIONS = (None, "lz4", "zstd")


def _compressors(zarr, compression: str | None, dtype: str) -> tuple:
    """Zarr's compressors for ``compression`` (:func:`write_features` says how each measured)."""
    if compression == "lz4":
        return (zarr.codecs.BloscCodec(cname="lz4", clevel=5, shuffle="shuffle",
                                       typesize=np.dtype(dtype).itemsize),)
    if compression == "zstd":
        return (zarr.codecs.ZstdCodec(level=0),)
    return ()


def _check_resumable(path: Path, found: dict, meta: dict) -> None:
    """A store left by an earlier run may be finished only with its own songs and settings."""
    if found.get("format") != STORE_FORMAT:
        raise ValueError(f"{path}: not a sklearn_songpop feature store; choose another folder")
    for key, what in (("settings", "front-end settings"), ("ids", "songs"),
                      ("chunk_songs", "chunk size"), ("dtype", "dtype"), ("y", "labels"),
                      ("groups", "groups")):
        if found.get(key) != meta[key]:
            raise ValueError(
                f"{path}: this store was started with other {what}; finish it with the "
                "same songs and settings, or write to another folder"
            )


#: Front ends fitted in this process, by their pickled parameters: a worker fits one once.
_FITTED: OrderedDict[bytes, object] = OrderedDict()
_FITTED_LOCK = threading.Lock()  # worker threads share the cache


def _fitted(front):
    """``front`` fitted (its filter banks cost about 30 ms, a tenth of a small chunk)."""
    key = pickle.dumps(front)
    with _FITTED_LOCK:
        if key not in _FITTED:
            _FITTED[key] = clone(front).fit(_probe())  # the steps learn nothing from songs
            while len(_FITTED) > 4:
                _FITTED.popitem(last=False)
        _FITTED.move_to_end(key)
        return _FITTED[key]


def _write_chunk(path, c, chunk_songs, front, songs, ids, shape, on_error, dtype, alone):
    """Compute chunk ``c`` and write it, then mark it done: a job that may run on a worker.

    The front end travels unfitted (its parameters only: its filter banks would
    weigh 300 KB a job), and only the chunk's number and its counts travel back.
    When ``alone``, the front end runs in this job's thread only: a Dask worker
    would otherwise send the steps' own joblib jobs back to the cluster.
    """
    with parallel_config(backend="sequential") if alone else nullcontext():
        values, state, reasons = _chunk(_fitted(front), songs, ids, shape, on_error)
    root = _zarr().open_group(path, mode="r+")
    lo = c * chunk_songs
    root["spectrograms"][lo:lo + len(songs)] = values.astype(dtype)
    root["status"][lo:lo + len(songs)] = state
    if reasons:
        folder = Path(path) / "failures"
        folder.mkdir(exist_ok=True)
        (folder / f"chunk_{c:06d}.json").write_text(json.dumps(reasons, indent=1),
                                                    encoding="utf-8")
    root["done"][c] = True  # last: a chunk counts only once all of it is on disk
    return c, int((state == 1).sum()), len(reasons)


def _chunk(front, songs, ids, shape, on_error):
    """The spectrograms of a chunk of songs, their status and the reasons of failures."""
    try:
        return np.asarray(front.transform(songs)), np.ones(len(songs), np.int8), {}
    except AudioError:
        if on_error == "stop":
            raise
    # one song at a time, to tell the bad ones from the rest
    values = np.zeros((len(songs), *shape), np.float32)
    state = np.ones(len(songs), np.int8)
    reasons = {}
    for i, song in enumerate(songs):
        try:
            values[i] = front.transform([song])[0]
        except AudioError as exc:
            state[i] = 2
            reasons[ids[i]] = exc.reason
    return values, state, reasons


def _chunk_decoder(array):
    """The native dtype and how to decode one chunk file into an array: a function, or None.

    The function takes the file's bytes and the array to fill; ``"raw"``
    means the file holds the values themselves. None when the layout is not
    the one :func:`write_features` makes (little-endian bytes, then Blosc,
    Zstandard or nothing; one chunk spanning all but the song axis; no
    shards): Zarr reads such an array itself.
    """
    from numcodecs import blosc
    from numcodecs.zstd import Zstd
    from zarr.codecs import BloscCodec, BytesCodec, ZstdCodec

    dtype = np.dtype(array.dtype).newbyteorder("<")
    codecs = tuple(array.metadata.codecs)
    if array.shards is not None or not codecs or not isinstance(codecs[0], BytesCodec) \
            or (codecs[0].endian is not None and codecs[0].endian.value != "little") \
            or len(array.chunks) != 4 or tuple(array.chunks[1:]) != tuple(array.shape[1:]):
        return dtype, None
    if len(codecs) == 1:
        return dtype, "raw"
    if len(codecs) == 2 and isinstance(codecs[1], BloscCodec):
        return dtype, blosc.decompress
    if len(codecs) == 2 and isinstance(codecs[1], ZstdCodec):
        return dtype, lambda data, out: Zstd().decode(data, out=out)
    return dtype, None


class FeatureStore:
    """Read a store written by :func:`write_features`, a chunk at a time.

    Parameters
    ----------
    path : str or os.PathLike
        The store's folder.

    Attributes
    ----------
    ids : list of str
        The songs, in order (paths, or ``"waveform i"``).
    y, groups : ndarray or None
        Labels and groups, as given to :func:`write_features`.
    settings : dict
        The front end's steps and parameters (see :func:`front_end_settings`).
    shape : tuple of int
        ``(n_songs, k, n_bins, n_frames)``.
    chunk_songs : int

    Examples
    --------
    See :func:`write_features`.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        zarr = _zarr()
        self.path = Path(path)
        if not (self.path / "zarr.json").is_file():
            raise FileNotFoundError(f"{self.path}: no feature store here (no zarr.json)")
        root = zarr.open_group(str(self.path), mode="r")
        attrs = dict(root.attrs)
        if attrs.get("format") != STORE_FORMAT:
            raise ValueError(f"{self.path}: not a sklearn_songpop feature store")
        self._root = root
        self._spectrograms = root["spectrograms"]
        self._dtype, self._decode = _chunk_decoder(self._spectrograms)
        self.ids = list(attrs["ids"])
        self.y = None if attrs["y"] is None else np.asarray(attrs["y"])
        self.groups = None if attrs["groups"] is None else np.asarray(attrs["groups"])
        self.settings = attrs["settings"]
        self.chunk_songs = int(attrs["chunk_songs"])
        self.shape = tuple(self._spectrograms.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows) -> np.ndarray:
        """Spectrograms of some songs as float32: an int, a slice or an array of rows."""
        return np.asarray(self._spectrograms[rows], dtype=np.float32)

    def read_chunk(self, c: int) -> np.ndarray:
        """The spectrograms of chunk ``c`` as stored (float16 unless written as float32).

        When the store has the layout this package writes (one file a
        chunk), the file is mapped into memory (uncompressed: each song's
        pages are read when a batch copies it) or read and decompressed
        (LZ4 or Zstandard) here, in the calling thread; otherwise Zarr reads
        it. Zarr's own reads pass through its event loop in another thread,
        and each hand-over waits for the GIL, which a training loop in the
        main thread often holds (see the research notes, "Feeding a network
        from the store").

        Parameters
        ----------
        c : int
            The chunk: songs ``c * chunk_songs`` up to ``(c + 1) * chunk_songs``.

        Returns
        -------
        ndarray of shape (songs of the chunk, k, n_bins, n_frames)
        """
        size = self.chunk_songs
        rows = min(size, len(self) - c * size)
        if not 0 <= c * size < len(self):
            raise IndexError(f"{self.path}: no chunk {c} (the store has "
                             f"{-(-len(self) // size)})")
        if self._decode is None:  # a layout of another writer: Zarr reads it
            return np.asarray(self._spectrograms[c * size:c * size + rows])
        array = self._spectrograms
        file = self.path / "spectrograms" / array.metadata.encode_chunk_key((c, 0, 0, 0))
        if not file.is_file():  # never written: Zarr's fill value
            return np.zeros((rows, *self.shape[1:]), dtype=self._dtype)
        if self._decode == "raw":  # mapped, not read: batches copy only what they take
            with open(file, "rb") as f:
                mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)
            if hasattr(mapped, "madvise"):  # the kernel reads the file ahead
                mapped.madvise(mmap.MADV_WILLNEED)
            return np.frombuffer(mapped, dtype=self._dtype).reshape(array.chunks)[:rows]
        out = np.empty(array.chunks, dtype=self._dtype)
        self._decode(file.read_bytes(), out)
        return out[:rows]

    @property
    def complete(self) -> bool:
        """Whether every chunk is written."""
        return bool(self._root["done"][:].all())

    @property
    def status(self) -> np.ndarray:
        """Per song: 0 not written yet, 1 written, 2 failed to decode."""
        return np.asarray(self._root["status"][:])

    @property
    def failures(self) -> dict[str, str]:
        """The songs that failed to decode, each with its reason."""
        out = {}
        for file in sorted((self.path / "failures").glob("chunk_*.json")):
            out.update(json.loads(file.read_text(encoding="utf-8")))
        return out

    def check_front_end(self, front_end) -> None:
        """Raise a clear error when a model's front end differs from the store's.

        Parameters
        ----------
        front_end : Pipeline
            The steps before a model's network.
        """
        mine = front_end_settings(front_end)
        if mine != self.settings:
            steps = sorted(k for k in set(mine) | set(self.settings)
                           if mine.get(k) != self.settings.get(k))
            raise ValueError(
                f"{self.path}: the store's spectrograms were made with other settings than "
                f"this model's (steps {steps} differ); write a store with the model's "
                "front end, or train a model on this store's"
            )

    @property
    def rows(self) -> np.ndarray:
        """The rows of the songs that were written (not failed): what training reads."""
        return np.flatnonzero(self.status == 1)

    def front_end(self):
        """The sampler and spectrogram steps that made the store, fitted, as a Pipeline.

        Returns
        -------
        Pipeline
        """
        from sklearn.pipeline import Pipeline

        from sklearn_songpop.intervals import IntervalSampler
        from sklearn_songpop.spectrogram import SpectrogramTransformer

        known = {"IntervalSampler": IntervalSampler,
                 "SpectrogramTransformer": SpectrogramTransformer}
        steps = []
        for name, step in self.settings.items():
            if step["class"] not in known:
                raise ValueError(f"{self.path}: unknown front-end step {step['class']!r}")
            params = {k: tuple(v) if isinstance(v, list) else v
                      for k, v in step["params"].items()}
            steps.append((name, known[step["class"]](**params)))
        return Pipeline(steps).fit(_probe())  # they learn nothing from the songs

    def pipeline(self, estimator):
        """A network fitted on this store behind the store's front end: a model of audio files.

        Parameters
        ----------
        estimator : fitted estimator
            Trained on the store, e.g. ``SpectrogramCNNClassifier().fit(store)``.

        Returns
        -------
        Pipeline
            ``intervals``, ``spectrogram`` and the estimator (as ``"classifier"``,
            ``"regressor"`` or ``"encoder"``), ready to predict audio files.
        """
        from sklearn.base import is_classifier, is_regressor
        from sklearn.pipeline import Pipeline

        name = ("classifier" if is_classifier(estimator) else
                "regressor" if is_regressor(estimator) else "encoder")
        return Pipeline([*self.front_end().steps, (name, estimator)])


class StoreDataset(torch.utils.data.Dataset):
    """The written songs of a store as a torch Dataset of ``(spectrograms, target)`` pairs.

    Reads whole chunks and keeps the last ``cache_chunks`` of them, so reading
    the songs of a chunk one after another decodes it once. The spectrograms
    come as stored (float16 unless the store was written as float32); the
    networks turn them into float32 on their own device. The networks read a
    store through :class:`~sklearn_songpop.batching.StoreLoader`, which reads
    ahead and takes ``cache_chunks`` as its limit.

    Parameters
    ----------
    store : FeatureStore
        Complete (every chunk written).
    y : array-like of shape (len(store.rows),) or None, default=None
        Targets of the written songs, as the network trains on them; None
        gives 0 for every song (for prediction).
    cache_chunks : int, default=4
        Chunks kept in memory.
    """

    def __init__(self, store: FeatureStore, y=None, cache_chunks: int = 4) -> None:
        if not store.complete:
            raise ValueError(
                f"{store.path}: the store is not finished; run write_features (or songpop "
                "features) again with the same songs and settings to finish it"
            )
        self.store = store
        self.rows = store.rows
        self.y = None if y is None else np.asarray(y)
        if self.y is not None and len(self.y) != len(self.rows):
            raise ValueError(f"y has {len(self.y)} entries for {len(self.rows)} written songs")
        self.cache_chunks = cache_chunks
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()

    def __len__(self) -> int:
        return len(self.rows)

    def _chunk(self, c: int) -> np.ndarray:
        if c in self._cache:
            self._cache.move_to_end(c)
        else:
            self._cache[c] = self.store.read_chunk(c)
            while len(self._cache) > self.cache_chunks:
                self._cache.popitem(last=False)
        return self._cache[c]

    def __getitem__(self, i: int):
        row = int(self.rows[i])
        c, offset = divmod(row, self.store.chunk_songs)
        x = self._chunk(c)[offset]
        return x, (self.y[i] if self.y is not None else np.int64(0))

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_cache"] = OrderedDict()  # a pickled dataset carries no chunks
        return state


class ChunkShuffleSampler(torch.utils.data.Sampler):
    """Songs in random order, a few chunks at a time, so each chunk is read once an epoch.

    The chunks are shuffled, taken ``buffer_chunks`` at a time, and the songs
    of each group are shuffled together: batches mix songs of several chunks
    while memory holds only those chunks. Every song comes once an epoch.

    The price is in the batches: a batch draws its songs from
    ``buffer_chunks`` chunks, not from the whole store, so songs written
    next to each other (an album, one artist's catalogue) meet in a batch
    more often than by chance. Write a store in shuffled order, or from a
    manifest that does not list songs by artist, when that matters; across
    an epoch the order of the groups is uniform.

    Parameters
    ----------
    rows : array-like of int
        The store row of each position of the dataset.
    chunk_songs : int
        Songs per chunk of the store.
    buffer_chunks : int, default=4
        Chunks whose songs are shuffled together.
    generator : torch.Generator or None, default=None
        Draws the order; None draws from torch's global generator, as
        skorch's own shuffling does, so a seeded fit is repeatable.
    """

    def __init__(self, rows, chunk_songs: int, buffer_chunks: int = 4,
                 generator: torch.Generator | None = None) -> None:
        self.rows = np.asarray(rows)
        self.chunk_songs = int(chunk_songs)
        self.buffer_chunks = int(buffer_chunks)
        self.generator = generator

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self):
        chunk_of = self.rows // self.chunk_songs
        chunks = np.unique(chunk_of)
        order = chunks[torch.randperm(len(chunks), generator=self.generator).numpy()]
        for g in range(0, len(order), self.buffer_chunks):
            positions = np.flatnonzero(np.isin(chunk_of, order[g:g + self.buffer_chunks]))
            mixed = torch.randperm(len(positions), generator=self.generator).numpy()
            yield from positions[mixed].tolist()


def store_items(dataset) -> tuple[StoreDataset, np.ndarray] | None:
    """The StoreDataset under a dataset (or Subsets of one), and the position in it of each item.

    Parameters
    ----------
    dataset : torch Dataset

    Returns
    -------
    (StoreDataset, ndarray of int) or None
        None for any dataset that does not read a store.

    Examples
    --------
    >>> store_items(torch.utils.data.TensorDataset(torch.zeros(3))) is None
    True
    """
    indices = np.arange(len(dataset))
    while isinstance(dataset, torch.utils.data.Subset):
        indices = np.asarray(dataset.indices)[indices]
        dataset = dataset.dataset
    if not isinstance(dataset, StoreDataset):
        return None
    return dataset, indices


def store_layout(dataset) -> tuple[np.ndarray, int] | None:
    """The store row of each item of a StoreDataset (or a Subset of one), and its chunk size.

    Parameters
    ----------
    dataset : torch Dataset

    Returns
    -------
    (rows, chunk_songs) or None
        None for any dataset that does not read a store.

    Examples
    --------
    >>> store_layout(torch.utils.data.TensorDataset(torch.zeros(3))) is None
    True
    """
    items = store_items(dataset)
    if items is None:
        return None
    base, indices = items
    return base.rows[indices], base.store.chunk_songs
