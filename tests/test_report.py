"""The HTML report: self-contained, its tables the numbers of report.json; and in a browser."""

import io
import json
import os
import shutil
import subprocess

import matplotlib
import numpy as np
import pytest
from sklearn.utils import Bunch

from sklearn_songpop import render_report, write_report
from sklearn_songpop.report import explained_songs
from tests._html import assert_tables_match, read_report

matplotlib.use("Agg")


def _png() -> bytes:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1], [0, 1])
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def _explanation(novelty) -> Bunch:
    rng = np.random.default_rng(0)
    return Bunch(attributions=rng.standard_normal((2, 3, 8, 10)),
                 spectrograms=rng.standard_normal((2, 3, 8, 10)),
                 starts=np.array([[0.0, 6.0, 12.0]] * 2), frequencies=np.linspace(50, 4000, 8),
                 times=np.linspace(0.3, 5.7, 10), duration=6.0, targets=np.array(["hit"] * 2),
                 interval_predictions=np.full((2, 3), 0.7), predictions=np.array([0.7, 0.7]),
                 novelty=np.asarray(novelty), novelty_distance=4.0 * np.asarray(novelty),
                 classes=np.array(["flop", "hit"]), method="occlusion")


SUMMARY = {
    "cv": "GroupKFold(n_splits=5)", "classes": [0, 1], "pos_label": 1, "n_songs": 40,
    "scores": {"model": {"roc_auc": 0.8123, "balanced_accuracy": 0.7},
               "majority class": {"roc_auc": 0.5, "balanced_accuracy": 0.5}},
    "fold_scores": {"model": {"roc_auc": [0.7, 0.9], "balanced_accuracy": [0.6, 0.8]},
                    "majority class": {"roc_auc": [0.5, 0.5], "balanced_accuracy": [0.5, 0.5]}},
    "confusion_matrix": {"model": [[10, 3], [2, 5]], "majority class": [[13, 0], [7, 0]]},
    "calibration": {"model": {"brier": 0.18, "ece": 0.071},
                    "majority class": {"brier": 0.25, "ece": 0.0}},
    "conformal": {"model": {"0.1": {"coverage": 0.925, "mean_set_size": 1.4}},
                  "majority class": {"0.1": {"coverage": 1.0, "mean_set_size": 2.0}}},
}
LEAK = {"by artist": {"roc_auc": 0.6, "balanced_accuracy": 0.55},
        "shuffled": {"roc_auc": 0.9, "balanced_accuracy": 0.8}}


@pytest.fixture
def report(tmp_path):
    songs = explained_songs(_explanation([0.3, 1.0]), ["a.mp3", "b & c.mp3"])
    return write_report(tmp_path / "out", "A <test> report", summary=SUMMARY, leak=LEAK,
                        figures=[("a curve", _png())], songs=songs, notes=["first note"])


def test_report_is_self_contained_and_holds_the_numbers(report):
    page = report.read_text(encoding="utf-8")
    parsed = read_report(report)
    assert len(parsed.images) == 3  # the figure and one per explained song
    assert parsed.scripts == 0 and parsed.links == []
    assert "http" not in page.replace("http-equiv", "")
    assert_tables_match(parsed, SUMMARY["scores"])
    assert_tables_match(parsed, LEAK, table="leak")
    assert "A &lt;test&gt; report" in page and "b &amp; c.mp3" in page
    assert "folds 0.800 &plusmn; 0.100" in page
    uncertainty = {model: {**SUMMARY["calibration"][model],
                           "coverage, alpha 0.1": entry["0.1"]["coverage"],
                           "mean set size, alpha 0.1": entry["0.1"]["mean_set_size"]}
                   for model, entry in SUMMARY["conformal"].items()}
    assert_tables_match(parsed, uncertainty, table="scores_uncertainty")
    # the prediction reads as predict writes it: the positive class's score
    assert "predicted class hit (score of hit: 0.700)" in page


def test_novel_songs_carry_a_warning(report):
    page = report.read_text(encoding="utf-8")
    assert page.count('class="warning"') == 1
    assert "Novelty 4.0:" in page and "novelty 1.2 (its distance" in page


def test_figures_must_be_png(tmp_path):
    (tmp_path / "f.png").write_bytes(b"GIF89a...")
    with pytest.raises(ValueError, match="not a PNG image"):
        render_report("x", figures=[("bad", tmp_path / "f.png")])


def test_a_regression_summary_renders():
    summary = {"cv": "KFold", "task": "regression", "n_songs": 9,
               "scores": {"model": {"spearman": 0.4}},
               "fold_scores": {"model": {"spearman": [0.4]}},
               "forward_in_time": {"cv": "ReleaseYearSplit", "task": "regression", "n_songs": 3,
                                   "scores": {"model": {"spearman": 0.2}}}}
    page = render_report("r", summary=summary)
    assert 'data-table="forward_in_time" data-model="model" data-metric="spearman">0.200' in page
    assert "Confusion" not in page


# ---------------------------------------------------------------------- in a browser
_CHECK = """<script>
window.__errors = [];
window.addEventListener("error", e => window.__errors.push(
    String(e.message || (e.target && (e.target.src || e.target.href)) || e)), true);
const __error = console.error;
console.error = (...a) => { window.__errors.push(a.join(" ")); __error(...a); };
window.addEventListener("load", () => {
  const images = [...document.images];
  const drawn = images.filter(i => i.complete && i.naturalWidth > 0 && i.naturalHeight > 0);
  document.documentElement.setAttribute("data-check", JSON.stringify(
    {images: images.length, drawn: drawn.length, errors: window.__errors}));
});
</script>"""


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.slow  # starts a browser
def test_report_in_a_real_browser(report, tmp_path):
    """Debian's chromium, headless: every image drawn, no console error, a screenshot."""
    browser = _chromium()
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail("CI must install chromium (.ci/run does: apt-get install chromium)")
        pytest.skip("chromium is not installed here (apt-get install chromium); CI runs this")
    flags = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-extensions", f"--user-data-dir={tmp_path / 'profile'}"]
    probe = tmp_path / "probe.html"
    probe.write_text(report.read_text(encoding="utf-8").replace("<head>", "<head>" + _CHECK, 1),
                     encoding="utf-8")
    run = subprocess.run([*flags, "--dump-dom", probe.as_uri()], capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    marker = run.stdout.split('data-check="', 1)[1].split('"', 1)[0]
    check = json.loads(marker.replace("&quot;", '"').replace("&amp;", "&"))
    assert check["images"] == 3 and check["drawn"] == 3, check
    assert check["errors"] == [], check
    shot = tmp_path / "report.png"
    run = subprocess.run([*flags, f"--screenshot={shot}", "--window-size=1100,1400",
                          report.as_uri()], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


def test_training_curves_mark_whole_epochs_only():
    import matplotlib

    matplotlib.use("Agg")
    import numpy as np

    from sklearn_songpop import SpectrogramCNNClassifier
    from sklearn_songpop.plotting import plot_training_curves

    X = np.random.default_rng(0).standard_normal((8, 2, 16, 16)).astype("float32")
    clf = SpectrogramCNNClassifier(max_epochs=3, random_state=0).fit(X, [0, 1] * 4)
    ticks = plot_training_curves(clf).get_xticks()
    assert len(ticks) > 1 and all(float(t).is_integer() for t in ticks)
