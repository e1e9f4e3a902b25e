"""Songs to learn from: generated music for demos and tests, and manifests of real files."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed
from sklearn.utils import Bunch, check_random_state

from sklearn_songpop._write import WRITABLE_FORMATS, write_audio
from sklearn_songpop.audio import AUDIO_EXTENSIONS, probe_files

__all__ = ["find_audio", "load_manifest", "make_songs", "write_songs"]

_SCALE = np.array([0, 2, 3, 5, 7, 8, 10])  # natural minor, in semitones
_DESCR = """Generated songs
===============

Each song has drums, a bass line, chords and a melody. Tempo, key, chord
progression, timbre and a sustained pad are shared by all songs of an
artist, and artists differ in how often they have hits, so a model can learn
to recognise an artist: a split that lets an artist's songs reach both train
and test scores higher than one that keeps artists apart (GroupKFold with
``groups``). Popular songs carry a hook: a bright, vibrato lead an octave or
two above the melody, playing in about half of the song's bars at a varying
level. A fraction ``label_noise`` of the popular labels are swapped with
unpopular ones, so no model is perfect.

Every song also has a number, ``popularity`` (on the scale of log-streams),
and a release ``year``. The popular songs are exactly the top
``popular_fraction`` by popularity; among them, a louder and more frequent
hook means more streams, so the number says more than the label. Artists
release in a few neighbouring years. With ``drift`` above 0, the hook's sound
moves with the years (down an octave and from a bright square wave towards a
plain tone at ``drift=1``), as the sound of the charts does: a model trained
on past years then meets hits that sound unlike the ones it learned from.
"""


def _midi_hz(note: np.ndarray | float) -> np.ndarray:
    return 440.0 * 2.0 ** ((np.asarray(note, dtype=np.float64) - 69.0) / 12.0)


def _voice(freq: np.ndarray, harmonics: np.ndarray, sr: int) -> np.ndarray:
    """A tone following the per-sample frequency ``freq``, read from a one-cycle wavetable."""
    size = 1024
    cycle = np.arange(size) / size
    table = sum(amp * np.sin(2 * np.pi * h * cycle) for h, amp in enumerate(harmonics, 1) if amp)
    phase = np.cumsum(freq / sr) % 1.0
    return np.asarray(table)[(phase * size).astype(np.int64) % size]


def _artist_style(rng: np.random.Generator) -> dict:
    return {
        "bpm": rng.uniform(78, 150),
        "root": int(rng.integers(38, 50)),
        "progression": rng.choice(7, size=4),
        "timbre": rng.dirichlet(np.ones(5) * 0.7),
        "pad_hz": rng.uniform(150, 3000),
        "pad_level": rng.uniform(0.04, 0.12),
        "hat_level": rng.uniform(0.0, 0.25),
        "swing": rng.uniform(0.0, 0.25),
    }


#: The hook's harmonics at no drift (a square wave) and at full drift (nearly a sine).
_HOOK_START = np.array([1.0, 0.0, 1 / 3, 0.0, 1 / 5, 0.0, 1 / 7])
_HOOK_END = np.array([1.0, 0.15, 0.05, 0.0, 0.0, 0.0, 0.0])


def _song(
    style: dict, hit: bool, duration: float, sr: int, rng: np.random.Generator,
    drift: float = 0.0,
) -> tuple[np.ndarray, float]:
    """A song's waveform and the strength of its hook (0 without one).

    ``drift`` in [0, 1] moves the hook's register and timbre; it draws no
    random numbers, so songs at no drift are the same as ever.
    """
    n = int(round(duration * sr))
    t = np.arange(n) / sr
    beat = 60.0 / (style["bpm"] * rng.uniform(0.97, 1.03))
    beats = np.arange(0, duration, beat)
    bar_of = (t / (4 * beat)).astype(int)
    # drums: kick on every beat, snare on 2 and 4, hats on eighths
    kick_t = np.arange(int(0.15 * sr)) / sr
    kick = np.sin(2 * np.pi * (50 + 90 * np.exp(-kick_t * 30)) * kick_t) * np.exp(-kick_t * 18)
    snare = rng.standard_normal(int(0.12 * sr)) * np.exp(-np.arange(int(0.12 * sr)) / sr * 30)
    hat = rng.standard_normal(int(0.03 * sr)) * np.exp(-np.arange(int(0.03 * sr)) / sr * 150)
    hat = np.diff(hat, prepend=0.0)  # brighter
    drums = np.zeros(n)
    for times, kernel, level in (
        (beats, kick, 0.6),
        (beats[1::2], snare, 0.25),
        (np.concatenate([beats, beats + beat * (0.5 + style["swing"] / 2)]), hat,
         style["hat_level"]),
    ):
        for start in (times * sr).astype(int):
            piece = kernel[: max(0, n - start)]
            drums[start:start + len(piece)] += level * piece
    # harmony: one chord per bar from the artist's progression
    chord_root = style["root"] + _SCALE[style["progression"]]  # one per bar of the loop
    bar = bar_of % 4
    bass = _voice(_midi_hz(chord_root)[bar], np.array([1.0, 0.5, 0.25]), sr) * 0.3
    chords = sum(
        _voice(_midi_hz(chord_root + 12 + interval)[bar], style["timbre"], sr)
        for interval in (0, 3, 7)
    ) * 0.08
    # melody: a scale note per beat
    n_beats = len(beats) + 1
    notes = style["root"] + 24 + _SCALE[rng.integers(0, 7, n_beats)]
    beat_of = np.minimum((t / beat).astype(int), n_beats - 1)
    env = np.exp(-((t % beat) / beat) * 3)
    melody = _voice(_midi_hz(notes)[beat_of], style["timbre"], sr) * env * 0.12
    pad = np.sin(2 * np.pi * style["pad_hz"] * t) * style["pad_level"]
    mix = drums + bass + chords + melody + pad
    strength = 0.0
    if hit:
        # the hook: a bright vibrato lead in about half of the bars
        n_bars = int(bar_of.max()) + 1
        on = rng.random(n_bars) < 0.55
        hook_hz = _midi_hz(notes + 12 * rng.integers(1, 3))[beat_of]
        vibrato = 1 + 0.012 * np.sin(2 * np.pi * 5.5 * t)
        harmonics = _HOOK_START
        if drift:
            hook_hz = hook_hz * 2.0 ** -drift
            harmonics = (1 - drift) * _HOOK_START + drift * _HOOK_END
        hook = _voice(hook_hz * vibrato, harmonics, sr)
        gate = (np.sin(2 * np.pi * t / (beat / 2)) > -0.3).astype(float)
        level = rng.uniform(0.04, 0.12)
        mix += hook * gate * on[bar_of] * level
        strength = level * float(on[bar_of].mean())
    mix += rng.standard_normal(n) * 0.003
    return (mix / (np.abs(mix).max() + 1e-9) * 0.9).astype(np.float32), strength


def _years(groups: np.ndarray, n_artists: int, first_year: int, n_years: int,
           rng: np.random.Generator) -> np.ndarray:
    """A release year per song: each artist releases in up to three neighbouring years."""
    start = rng.integers(0, max(1, n_years - 2), n_artists)
    offset = rng.integers(0, 3, len(groups))
    return first_year + np.minimum(start[groups] + offset, n_years - 1)


def _popularity(y: np.ndarray, strength: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Log-streams: the songs labelled popular take the top values, ordered by appeal.

    Appeal is the hook's strength plus noise, so within each label a louder,
    more frequent hook tends to mean more streams.
    """
    n = len(y)
    values = np.sort(rng.normal(11.0, 1.5, n))[::-1]  # the catalogue's values, best first
    appeal = strength / 0.06 + rng.normal(0.0, 0.5, n)
    order = np.lexsort((-appeal, -y))  # popular songs first, each label by appeal
    popularity = np.empty(n)
    popularity[order] = values
    return np.round(popularity, 4)


def make_songs(
    n_songs: int = 200,
    popular_fraction: float = 0.22,
    n_artists: int = 20,
    duration: float = 20.0,
    sr: int = 22050,
    label_noise: float = 0.08,
    n_years: int = 10,
    first_year: int = 2015,
    drift: float = 0.0,
    metadata: bool = False,
    random_state=None,
) -> Bunch:
    """Generate songs, some of them popular, by a number of artists, over the years.

    Parameters
    ----------
    n_songs : int, default=200
        How many songs.
    popular_fraction : float, default=0.22
        Share of songs labelled popular (the seed had 176 of 803).
    n_artists : int, default=20
        Artists; each has a style (tempo, key, progression, timbre, a pad) and
        a propensity for hits.
    duration : float, default=20.0
        Length of each song in seconds.
    sr : int, default=22050
        Sampling rate.
    label_noise : float, default=0.08
        Share of popular labels swapped with unpopular ones (keeping the
        count of each): those songs sound like the other class.
    n_years : int, default=10
        Release years, from ``first_year`` on.
    first_year : int, default=2015
    drift : float, default=0.0
        How far the sound of a hit moves from the first year to the last, in
        [0, 1]. 0 leaves it alone (and gives the songs of earlier versions for
        the same seed); 1 moves the hook an octave down and from a square wave
        to nearly a sine, so a model evaluated forward in time meets hits
        unlike those it learned from.
    metadata : bool, default=False
        Also make what a catalogue knows besides the audio, in ``metadata``:
        ``followers`` (the artist's following, in thousands: larger for
        artists with more hits), ``record_label`` (``"major"`` or
        ``"independent"``: hits are more often on a major) carry part of the
        signal; ``genre`` and ``track_number`` carry none. Drawn from a
        stream of their own: the songs are those made without it.
    random_state : int, RandomState instance or None, default=None
        Seed.

    Returns
    -------
    sklearn.utils.Bunch
        ``waveforms`` (list of 1-D float32 arrays), ``y`` (int array, 1 =
        popular), ``popularity`` (float array; the songs with ``y == 1`` are
        its top values), ``year`` (int array), ``groups`` (artist ids),
        ``sr``, ``target_names``, ``DESCR``, and with ``metadata=True`` a
        ``metadata`` dict of arrays, one value per song.

    Examples
    --------
    >>> songs = make_songs(n_songs=10, n_artists=3, duration=2.0, random_state=0)
    >>> len(songs.waveforms), songs.waveforms[0].shape, int(songs.y.sum())
    (10, (44100,), 2)
    >>> top = np.argsort(songs.popularity)[::-1][:2]
    >>> sorted(top.tolist()) == np.flatnonzero(songs.y).tolist()
    True
    >>> int(songs.year.min()) >= 2015, int(songs.year.max()) <= 2024
    (True, True)
    >>> sorted(make_songs(n_songs=4, duration=1.0, metadata=True, random_state=0).metadata)
    ['followers', 'genre', 'record_label', 'track_number']
    """
    if n_songs < 1 or n_artists < 1:
        raise ValueError("n_songs and n_artists must be at least 1")
    if not 0.0 <= popular_fraction <= 1.0:
        raise ValueError(f"popular_fraction must be in [0, 1], got {popular_fraction}")
    if not 0.0 <= label_noise <= 1.0:
        raise ValueError(f"label_noise must be in [0, 1], got {label_noise}")
    if n_years < 1:
        raise ValueError(f"n_years must be at least 1, got {n_years}")
    if not 0.0 <= drift <= 1.0:
        raise ValueError(f"drift must be in [0, 1], got {drift}")
    rs = check_random_state(random_state)
    seed = rs.randint(np.iinfo(np.int32).max)
    rng = np.random.default_rng(seed)
    # years and popularity draw from a stream of their own: the songs stay those of old
    rng_time = np.random.default_rng([seed, 14])
    styles = [_artist_style(rng) for _ in range(n_artists)]
    propensity = rng.beta(0.35, 1.1, n_artists) + 0.01
    groups = np.sort(rng.integers(0, n_artists, n_songs))
    n_pop = int(round(popular_fraction * n_songs))
    weights = propensity[groups] / propensity[groups].sum()
    hit = np.zeros(n_songs, dtype=bool)
    hit[rng.choice(n_songs, size=n_pop, replace=False, p=weights)] = True
    y = hit.astype(int)
    n_swap = min(int(round(label_noise * n_pop)), n_pop, n_songs - n_pop)
    if n_swap:
        a = rng.choice(np.flatnonzero(hit), n_swap, replace=False)
        b = rng.choice(np.flatnonzero(~hit), n_swap, replace=False)
        y[a], y[b] = 0, 1
    year = _years(groups, n_artists, first_year, n_years, rng_time)
    phase = (year - first_year) / max(1, n_years - 1)
    songs = [_song(styles[g], h, duration, sr, rng, drift=drift * u)
             for g, h, u in zip(groups, hit, phase)]
    strength = np.array([s for _, s in songs])
    bunch = Bunch(
        waveforms=[w for w, _ in songs], y=y, popularity=_popularity(y, strength, rng_time),
        year=year, groups=groups, sr=sr,
        target_names=np.array(["not popular", "popular"]), DESCR=_DESCR,
    )
    if metadata:
        bunch.metadata = _metadata(propensity, groups, hit, np.random.default_rng([seed, 32]))
    return bunch


def _metadata(propensity: np.ndarray, groups: np.ndarray, hit: np.ndarray,
              rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A catalogue's columns: two that carry part of the signal, two that carry none."""
    # an artist's following grows with their propensity for hits, with much spread
    followers = np.exp(rng.normal(3.0 + 4.0 * propensity, 1.0))[groups]
    major = rng.random(len(hit)) < np.where(hit, 0.6, 0.3)
    genres = np.array(["hip-hop", "pop", "r&b", "rock", "electronic"])
    return {
        "followers": np.round(followers, 1),
        "record_label": np.where(major, "major", "independent"),
        "genre": genres[rng.integers(0, len(genres), len(hit))],
        "track_number": rng.integers(1, 13, len(hit)),
    }


def write_songs(
    bunch: Bunch, folder: str | os.PathLike, format: str = "mp3", n_jobs: int | None = None
) -> Path:
    """Write generated songs as audio files, with a ``manifest.csv`` beside them.

    Parameters
    ----------
    bunch : Bunch
        As returned by :func:`make_songs`.
    folder : str or os.PathLike
        Created when missing.
    format : {"mp3", "m4a", "wav", "flac", "ogg"} or sequence of them, default="mp3"
        File format; a sequence assigns formats to songs in turn.
    n_jobs : int or None, default=None
        Files encoded in parallel through joblib.

    Returns
    -------
    pathlib.Path
        The manifest: columns ``path`` (relative to the folder), ``label``,
        ``artist``, ``popularity`` and ``year`` when the bunch has them, and
        the ``metadata`` columns.

    Examples
    --------
    >>> import tempfile
    >>> songs = make_songs(n_songs=3, n_artists=1, duration=1.0, random_state=0)
    >>> manifest = write_songs(songs, tempfile.mkdtemp(), format=("wav", "flac"))
    >>> for line in manifest.read_text().splitlines():
    ...     print(line.split(",")[:3])
    ['path', 'label', 'artist']
    ['song_0000.wav', '0', 'artist_00']
    ['song_0001.flac', '1', 'artist_00']
    ['song_0002.wav', '0', 'artist_00']
    >>> manifest.read_text().splitlines()[0]
    'path,label,artist,popularity,year'
    >>> data = load_manifest(manifest)
    >>> [p.rsplit("/", 1)[1] for p in data.paths], data.y.tolist()
    (['song_0000.wav', 'song_0001.flac', 'song_0002.wav'], [0, 1, 0])
    >>> [p.rsplit("/", 1)[1] for p in find_audio(manifest.parent)]
    ['song_0000.wav', 'song_0001.flac', 'song_0002.wav']
    """
    formats = [format] if isinstance(format, str) else list(format)
    for fmt in formats:
        if fmt not in WRITABLE_FORMATS:
            raise ValueError(f"format must be one of {WRITABLE_FORMATS}, got {fmt!r}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    names = [f"song_{i:04d}.{formats[i % len(formats)]}" for i in range(len(bunch.waveforms))]
    Parallel(n_jobs=n_jobs)(
        delayed(write_audio)(folder / name, wave, bunch.sr)
        for name, wave in zip(names, bunch.waveforms)
    )
    rows = [
        {"path": name, "label": int(label), "artist": f"artist_{int(group):02d}"}
        for name, label, group in zip(names, bunch.y, bunch.groups)
    ]
    fields = ["path", "label", "artist"]
    columns = [(field, bunch[field]) for field in ("popularity", "year")
               if bunch.get(field) is not None]
    columns += list((bunch.get("metadata") or {}).items())
    for field, values in columns:
        fields.append(field)
        for row, value in zip(rows, values):
            row[field] = value.item() if hasattr(value, "item") else value
    manifest = folder / "manifest.csv"
    with open(manifest, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return manifest


def load_manifest(
    path: str | os.PathLike,
    path_column: str = "path",
    label_column: str | None = "label",
    group_column: str | None = "artist",
    check_files: bool = True,
    time_column: str | None = None,
    as_frame: bool = False,
) -> Bunch:
    """Read a CSV of songs and labels.

    Parameters
    ----------
    path : str or os.PathLike
        The CSV file; relative song paths are taken from its folder.
    path_column : str, default="path"
        Column of song paths.
    label_column : str or None, default="label"
        Column of labels; None for unlabelled songs.
    group_column : str or None, default="artist"
        Column of groups (artists); used when present, ignored when the CSV
        has no such column.
    check_files : bool, default=True
        Probe every file; one :class:`~sklearn_songpop.audio.AudioError` lists
        all that are missing or cannot be decoded.
    time_column : str or None, default=None
        Column of release times (years, or strings that sort in time), for an
        evaluation forward in time; required when given.
    as_frame : bool, default=False
        Also give ``frame``, a pandas DataFrame of every column (the path
        column holding the resolved paths, numbers as numbers), to put the
        audio beside the other columns in a ``ColumnTransformer``.

    Returns
    -------
    sklearn.utils.Bunch
        ``paths`` (list of str), ``y`` (ndarray or None; integer when every
        label is an integer, else float when every label is a number),
        ``groups`` (ndarray or None), ``times`` (ndarray or None; integer when
        every value is), and ``frame`` with ``as_frame=True``.

    Raises
    ------
    ValueError
        When the CSV lacks a named column or has empty cells in it.
    AudioError
        Listing every bad file.

    Examples
    --------
    See :func:`write_songs`.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: manifest not found")
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        columns = reader.fieldnames or []
        rows = list(reader)
    for col in (path_column, label_column, time_column):
        if col is not None and col not in columns:
            raise ValueError(f"{path}: no column {col!r}; columns are {columns}")
    use_groups = group_column is not None and group_column in columns
    paths, labels, groups, times = [], [], [], []
    for line, row in enumerate(rows, start=2):
        song = (row.get(path_column) or "").strip()
        if not song:
            raise ValueError(f"{path}, line {line}: empty {path_column!r}")
        paths.append(str(path.parent / song) if not os.path.isabs(song) else song)
        if label_column is not None:
            label = (row.get(label_column) or "").strip()
            if label == "":
                raise ValueError(f"{path}, line {line}: empty {label_column!r}")
            labels.append(label)
        if use_groups:
            groups.append((row.get(group_column) or "").strip())
        if time_column is not None:
            when = (row.get(time_column) or "").strip()
            if when == "":
                raise ValueError(f"{path}, line {line}: empty {time_column!r}")
            times.append(when)
    if not paths:
        raise ValueError(f"{path}: the manifest lists no songs")
    if check_files:
        probe_files(paths)
    bunch = Bunch(
        paths=paths, y=_as_numbers(labels) if label_column is not None else None,
        groups=np.array(groups) if use_groups else None,
        times=_as_numbers(times, floats=False) if time_column is not None else None,
    )
    if as_frame:
        try:
            import pandas as pd
        except ImportError as exc:
            raise ImportError("as_frame=True needs pandas: pip install pandas") from exc
        frame = pd.DataFrame({col: [row.get(col, "") for row in rows] for col in columns})
        frame[path_column] = paths
        for col in columns:
            if col != path_column:
                frame[col] = _as_numbers([str(v).strip() for v in frame[col]])
        bunch.frame = frame
    return bunch


def _as_numbers(values: list[str], floats: bool = True) -> np.ndarray:
    """The column as integers if every cell is one, else as floats (if asked), else strings."""
    column = np.array(values)
    for kind in (int, float) if floats else (int,):
        try:
            return column.astype(kind)
        except ValueError:
            continue
    return column


def find_audio(folder: str | os.PathLike) -> list[str]:
    """Every audio file under ``folder``, by extension, sorted.

    Parameters
    ----------
    folder : str or os.PathLike

    Returns
    -------
    list of str

    Examples
    --------
    See :func:`write_songs`.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise NotADirectoryError(f"{folder}: not a folder")
    return sorted(
        str(p) for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS
    )
