"""The self-contained HTML report: tables and embedded figures, no network, no script.

It lays out what other modules computed (the dictionaries of
:meth:`EvaluationResult.to_dict`, PNG figures, explained songs) and computes
nothing itself; a browser opens the one file with nothing beside it.
"""

from __future__ import annotations

import base64
import html
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["explained_songs", "render_report", "write_report"]

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px;
       color: #222; line-height: 1.45; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 2em;
     border-bottom: 1px solid #ccc; } h3 { font-size: 1.05em; }
table { border-collapse: collapse; margin: 0.8em 0; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
thead th { background: #f2f2f2; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.9em; }
.spread { color: #777; font-size: 0.85em; }
.warning { background: #fff3cd; border: 1px solid #e0c060; padding: 0.4em 0.8em; }
.note { color: #444; }
"""


def _e(value) -> str:
    return html.escape(str(value))


def _num(value, digits: int = 3) -> str:
    try:
        return f"{float(value):.{digits}f}"
    except (TypeError, ValueError):
        return _e(value)


def _png(figure) -> str:
    """A figure as a data URI: PNG bytes, or the path of a PNG file."""
    data = figure if isinstance(figure, bytes | bytearray) else Path(figure).read_bytes()
    if not bytes(data[:8]) == b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{figure if not isinstance(figure, bytes | bytearray) else 'bytes'}: "
                         "not a PNG image")
    return "data:image/png;base64," + base64.b64encode(bytes(data)).decode("ascii")


def _figure(figure, caption: str) -> str:
    return (f'<figure><img src="{_png(figure)}" alt="{_e(caption)}">'
            f"<figcaption>{_e(caption)}</figcaption></figure>")


def _scores_table(scores: Mapping, fold_scores: Mapping | None, table: str) -> str:
    """Models by metric; each cell the score and, under it, mean and sd over folds."""
    import numpy as np

    metrics = list(next(iter(scores.values())))
    rows = []
    for model, values in scores.items():
        cells = [f"<td>{_e(model)}</td>"]
        for metric in metrics:
            spread = ""
            folds = (fold_scores or {}).get(model, {}).get(metric)
            if folds:
                f = np.asarray(folds, dtype=float)
                spread = (f'<br><span class="spread">folds {np.nanmean(f):.3f} &plusmn; '
                          f"{np.nanstd(f):.3f}</span>")
            cells.append(f'<td data-table="{_e(table)}" data-model="{_e(model)}" '
                         f'data-metric="{_e(metric)}">{_num(values[metric])}{spread}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    head = "".join(f"<th>{_e(m)}</th>" for m in metrics)
    return (f'<table class="scores"><thead><tr><th>model</th>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>")


def _confusion(summary: Mapping) -> str:
    parts = []
    classes = summary["classes"]
    for model, matrix in summary["confusion_matrix"].items():
        head = "".join(f"<th>predicted {_e(c)}</th>" for c in classes)
        body = "".join(
            f"<tr><td>true {_e(c)}</td>"
            + "".join(f'<td data-model="{_e(model)}">{int(v)}</td>' for v in row) + "</tr>"
            for c, row in zip(classes, matrix))
        parts.append(f"<h3>{_e(model)}</h3><table class=\"confusion\"><thead><tr><th></th>"
                     f"{head}</tr></thead><tbody>{body}</tbody></table>")
    return "".join(parts)


def _summary(summary: Mapping, table: str = "scores") -> str:
    n = summary.get("n_songs")
    out = [f"<p>{_e(summary.get('cv', ''))}; {_e(n)} songs"
           + (f", positive class {_e(summary['pos_label'])}" if "pos_label" in summary else "")
           + ". Each score is over every song's out-of-fold prediction"
           + (", the mean over folds for a regression" if summary.get("task") == "regression"
              else "") + "; under it, the folds' mean and standard deviation.</p>",
           _scores_table(summary["scores"], summary.get("fold_scores"), table)]
    if "confusion_matrix" in summary:
        out.append("<h2>Confusion matrices</h2><p>Rows: the true class; columns: the "
                   "predicted class.</p>" + _confusion(summary))
    if summary.get("conformal"):
        out.append(_uncertainty(summary, table))
    if "forward_in_time" in summary:
        out.append("<h2>Forward in time</h2>" + _summary(summary["forward_in_time"],
                                                          "forward_in_time"))
    return "".join(out)


def _uncertainty(summary: Mapping, table: str) -> str:
    """The calibration scores and the cross-conformal coverage, a row per model."""
    calibration = summary.get("calibration") or {}
    size = "mean set size" if calibration else "mean width"
    rows = {}
    for model, by_alpha in summary["conformal"].items():
        row = dict(calibration.get(model, {}))
        for alpha, entry in by_alpha.items():
            row[f"coverage, alpha {alpha}"] = entry["coverage"]
            row[f"{size}, alpha {alpha}"] = entry.get("mean_set_size", entry.get("mean_width"))
        rows[model] = row
    text = ("<h2>How sure</h2><p>"
            + ("Calibration: the Brier score and the expected calibration error (ece, over "
               "10 bins holding the same number of songs) of the out-of-fold probabilities; "
               "0 is perfect for both. A model whose ece is large gives scores, not "
               "probabilities. " if calibration else "")
            + "Conformal: each fold's songs get the "
            + ("set of labels" if calibration else "interval")
            + " built from the other folds' out-of-fold errors, artists weighing the same; "
              "the coverage should be near 1 - alpha, and the smaller the "
            + ("sets" if calibration else "intervals") + " the better.</p>")
    return text + _scores_table(rows, None, f"{table}_uncertainty")


def _leak(leak: Mapping) -> str:
    rows = "".join(
        f"<tr><td>{_e(split)}</td>" + "".join(
            f'<td data-table="leak" data-model="{_e(split)}" data-metric="{_e(m)}">'
            f"{_num(v)}</td>" for m, v in scores.items()) + "</tr>"
        for split, scores in leak.items())
    metrics = list(next(iter(leak.values())))
    head = "".join(f"<th>{_e(m)}</th>" for m in metrics)
    return ("<p>The same log-mel baseline scored with each artist's songs kept on one side "
            "of every split, and with them shuffled across both: the difference is the "
            "artist's style leaking into the test, not a hit's sound.</p>"
            f'<table class="leak"><thead><tr><th>split</th>{head}</tr></thead>'
            f"<tbody>{rows}</tbody></table>")


def _song(song: Mapping) -> str:
    novelty = song.get("novelty")
    out = [f"<h3>{_e(song['name'])}</h3><p>{_e(song.get('prediction', ''))}"]
    if novelty is not None:
        out.append(f"; novelty {_num(novelty, 1)} (its distance to the nearest training "
                   "songs; 1 is a typical training song's)")
    out.append("</p>")
    if song.get("warning"):
        out.append(f'<p class="warning">{_e(song["warning"])}</p>')
    if song.get("figure") is not None:
        out.append(_figure(song["figure"], song.get("caption", song["name"])))
    return "".join(out)


def explained_songs(explanation, names: Sequence[str], warn_at: float | None = None
                    ) -> list[dict]:
    """The report's entries for the songs of an explanation, each with its figure.

    Parameters
    ----------
    explanation : Bunch
        From :func:`~sklearn_songpop.explain`.
    names : sequence of str
        A name for each song (its file name, say).
    warn_at : float or None, default=None
        Novelty, on the share scale, from which an entry carries a warning;
        None takes the command line's threshold (further out than every
        training song).

    Returns
    -------
    list of dict
        As :func:`render_report` takes them in ``songs``.
    """
    import io

    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from sklearn_songpop._novelty import WARN_AT
    from sklearn_songpop.explain import prediction_text
    from sklearn_songpop.plotting import plot_explanation

    warn_at = WARN_AT if warn_at is None else warn_at
    entries = []
    for i, name in enumerate(names):
        fig = plot_explanation(explanation, song=i)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
        plt.close(fig)
        prediction = prediction_text(explanation, i)
        novelty = None if explanation.novelty is None else float(
            explanation.novelty_distance[i])
        warning = None
        if novelty is not None and explanation.novelty[i] >= warn_at:
            warning = (f"Novelty {novelty:.1f}: this song lies further from the training songs "
                       "than any of them lies from the others; the model has heard little "
                       "like it, so read its score with care.")
        entries.append({"name": name, "prediction": prediction, "novelty": novelty,
                        "warning": warning, "figure": buffer.getvalue(),
                        "caption": f"{name}: {explanation.method} attributions per interval"})
    return entries


def render_report(
    title: str,
    *,
    summary: Mapping | None = None,
    leak: Mapping | None = None,
    figures: Sequence[tuple[str, object]] = (),
    songs: Sequence[Mapping] = (),
    notes: Sequence[str] = (),
) -> str:
    """The report as one HTML document: tables, then figures, then explained songs.

    Parameters
    ----------
    title : str
    summary : dict or None, default=None
        :meth:`EvaluationResult.to_dict` or :meth:`RegressionResult.to_dict`
        (what ``report.json`` holds): the scores table with the baselines,
        the confusion matrices and the forward-in-time scores.
    leak : dict or None, default=None
        ``{split name: {metric: value}}``: one model scored on two splits.
    figures : sequence of (str, bytes or path)
        Captions and PNG images (bytes, or the paths of PNG files), embedded.
    songs : sequence of dict
        Explained songs: ``name``, ``prediction`` (text), ``novelty``,
        ``warning`` (text or None), ``figure`` (PNG) and ``caption``.
    notes : sequence of str
        Paragraphs after the title.

    Returns
    -------
    str

    Examples
    --------
    >>> page = render_report("Demo", summary={"cv": "GroupKFold(5)", "n_songs": 10,
    ...     "scores": {"model": {"roc_auc": 0.71}}})
    >>> '<td data-table="scores" data-model="model" data-metric="roc_auc">0.710' in page
    True
    """
    parts = [f"<h1>{_e(title)}</h1>"]
    parts += [f'<p class="note">{_e(n)}</p>' for n in notes]
    if summary is not None:
        parts.append("<h2>Scores</h2>" + _summary(summary))
    if leak:
        parts.append("<h2>Why split by artist</h2>" + _leak(leak))
    if figures:
        parts.append("<h2>Figures</h2>" + "".join(_figure(f, c) for c, f in figures))
    if songs:
        parts.append("<h2>Explained songs</h2><p>Red cells raise the explained output, "
                     "blue ones lower it; above them, each interval's own output along the "
                     "song.</p>" + "".join(_song(s) for s in songs))
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body>"
            + "\n".join(parts) + "</body></html>\n")


def write_report(folder: str | os.PathLike, title: str, **kwargs) -> Path:
    """Write :func:`render_report` to ``folder/report.html``.

    Parameters
    ----------
    folder : str or os.PathLike
        Created when missing.
    title : str
    **kwargs
        As for :func:`render_report`.

    Returns
    -------
    Path
        The file written.

    Examples
    --------
    >>> import tempfile
    >>> path = write_report(tempfile.mkdtemp(), "Scores", notes=["Nothing yet."])
    >>> path.name, "Nothing yet." in path.read_text()
    ('report.html', True)
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "report.html"
    path.write_text(render_report(title, **kwargs), encoding="utf-8")
    return path
