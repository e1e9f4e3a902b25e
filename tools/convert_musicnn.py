"""Convert musicnn's MSD_musicnn checkpoint to sklearn_songpop's weights, and record
reference outputs of the original graph.

Run once, in a throwaway environment that has TensorFlow (never a dependency of
the package)::

    python -m venv /tmp/tfenv
    /tmp/tfenv/bin/pip install "tensorflow-cpu==2.21.*" "librosa==0.10.2.post1"
    pip download musicnn==0.1.0 --no-deps -d /tmp/musicnn
    unzip /tmp/musicnn/*.whl -d /tmp/musicnn
    /tmp/tfenv/bin/python tools/convert_musicnn.py /tmp/musicnn/musicnn/MSD_musicnn

It writes ``sklearn_songpop/data/msd_musicnn.npz`` (the weights, named as
``MusicnnNet``'s state dict) and ``tests/data/musicnn_reference.npz`` (generated
clips, the input patches musicnn's own preprocessing makes of them, and the
original graph's tag probabilities and embedding layers for those patches).

The checkpoint's ``checkpoint`` file points to its author's machine, so the
variables are read from the prefix (the folder and an empty name). The whole
``.meta`` graph does not import into TensorFlow 2 (its gradient nodes carry
``_output_shapes`` that no longer match), so only the inference subgraph is
taken, with those attributes removed, and the variables' values are fed in
place of the variables.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SR, N_FFT, HOP, N_MELS, FRAMES = 16_000, 512, 256, 96, 187
OUTPUTS = {"tags": "model/Sigmoid:0",
           "penultimate": "model/batch_normalization_10/batchnorm/add_1:0",
           "max_pool": "model/Max:0", "mean_pool": "model/moments/Squeeze:0"}


def _bn(reader, tf_name: str, ours: str) -> dict:
    get = reader.get_tensor
    return {f"{ours}.weight": get(f"{tf_name}/gamma"), f"{ours}.bias": get(f"{tf_name}/beta"),
            f"{ours}.running_mean": get(f"{tf_name}/moving_mean"),
            f"{ours}.running_var": get(f"{tf_name}/moving_variance"),
            f"{ours}.num_batches_tracked": np.array(0, np.int64)}


def state_dict(reader) -> dict[str, np.ndarray]:
    """The checkpoint's tensors under MusicnnNet's names and layouts."""
    get = reader.get_tensor
    state = _bn(reader, "batch_normalization", "input_bn")

    def conv2d(tf_name, ours):  # [h, w, in, out] -> [out, in, h, w]
        state[f"{ours}.weight"] = get(f"{tf_name}/kernel").transpose(3, 2, 0, 1)
        state[f"{ours}.bias"] = get(f"{tf_name}/bias")

    def conv1d(tf_name, ours):  # [7, channels, 1, out] -> [out, channels, 7]
        state[f"{ours}.weight"] = get(f"{tf_name}/kernel")[:, :, 0, :].transpose(2, 1, 0)
        state[f"{ours}.bias"] = get(f"{tf_name}/bias")

    def dense(tf_name, ours):  # [in, out] -> [out, in]
        state[f"{ours}.weight"] = get(f"{tf_name}/kernel").T
        state[f"{ours}.bias"] = get(f"{tf_name}/bias")

    for i in range(2):
        conv2d(f"conv2d{'' if i == 0 else '_1'}", f"timbral.{i}")
        state.update(_bn(reader, f"batch_normalization_{i + 1}", f"timbral_bn.{i}"))
    for i in range(3):
        conv2d(f"conv2d_{i + 2}", f"temporal.{i}")
        state.update(_bn(reader, f"batch_normalization_{i + 3}", f"temporal_bn.{i}"))
        conv1d(f"conv2d_{i + 5}", f"midend.{i}")
        state.update(_bn(reader, f"batch_normalization_{i + 6}", f"midend_bn.{i}"))
    state.update(_bn(reader, "batch_normalization_9", "pool_bn"))
    dense("dense", "penultimate")
    state.update(_bn(reader, "batch_normalization_10", "penultimate_bn"))
    dense("dense_1", "tags")
    return {k: np.ascontiguousarray(v, dtype=np.int64 if v.dtype == np.int64 else np.float32)
            for k, v in state.items()}


def clips() -> np.ndarray:
    """Four 3-second clips at 16 kHz as 16-bit PCM, none loud enough to overflow
    musicnn's float16."""
    rng = np.random.default_rng(0)
    t = np.arange(3 * SR) / SR
    chord = sum(np.sin(2 * np.pi * f * t * (1 + 0.003 * np.sin(2 * np.pi * 5 * t)))
                for f in (220.0, 277.2, 329.6)) / 3
    beats = np.zeros_like(t)
    for start in np.arange(0, 3, 0.5):
        n = int(0.08 * SR)
        i = int(start * SR)
        beats[i:i + n] = rng.standard_normal(n) * np.exp(-np.arange(n) / 400)
    sweep = np.sin(2 * np.pi * (200 * t + 600 * t ** 2))
    noise = rng.standard_normal(len(t))
    out = np.stack([0.1 * chord, 0.2 * beats, 0.05 * sweep + 0.02 * noise,
                    0.05 * chord + 0.1 * beats + 0.01 * noise])
    return np.round(out * 32767).astype(np.int16)  # stored as 16-bit PCM


def musicnn_patches(audio: np.ndarray) -> np.ndarray:
    """The first patch of each clip, as musicnn's extractor computes it (float16 included)."""
    import librosa

    patches = []
    for y in audio:
        rep = librosa.feature.melspectrogram(y=y, sr=SR, hop_length=HOP, n_fft=N_FFT,
                                             n_mels=N_MELS).T
        rep = np.log10(10000 * rep.astype(np.float16) + 1)
        assert np.isfinite(rep).all(), "a clip overflows float16: make it quieter"
        patches.append(rep[:FRAMES])
    return np.stack(patches).astype(np.float32)


def reference_outputs(folder: Path, reader, patches: np.ndarray) -> dict[str, np.ndarray]:
    """The original inference graph's outputs for the patches."""
    import tensorflow as tf
    from tensorflow.core.protobuf import meta_graph_pb2

    tf.compat.v1.disable_eager_execution()
    meta = meta_graph_pb2.MetaGraphDef()
    meta.ParseFromString((folder / ".meta").read_bytes())
    names = [name.split(":")[0] for name in OUTPUTS.values()]
    graph_def = tf.compat.v1.graph_util.extract_sub_graph(meta.graph_def, names)
    for node in graph_def.node:
        node.attr.pop("_output_shapes", None)
    graph = tf.Graph()
    with graph.as_default():
        tf.import_graph_def(graph_def, name="")
    feed = {"model/Placeholder:0": patches, "model/Placeholder_2:0": False}
    for node in graph_def.node:
        if node.op in ("VariableV2", "Variable"):
            feed[f"{node.name}/read:0"] = reader.get_tensor(node.name)
    with tf.compat.v1.Session(graph=graph) as session:
        values = session.run(list(OUTPUTS.values()), feed_dict=feed)
    out = dict(zip(OUTPUTS, values, strict=True))
    out["max_pool"] = out["max_pool"][..., 0]
    out["mean_pool"] = out["mean_pool"][..., 0]
    return {k: np.asarray(v, np.float32) for k, v in out.items()}


def main(folder: str) -> None:
    import tensorflow as tf

    folder = Path(folder)
    reader = tf.compat.v1.train.NewCheckpointReader(str(folder) + "/")
    weights = state_dict(reader)
    np.savez(ROOT / "sklearn_songpop" / "data" / "msd_musicnn.npz", **weights)
    audio = clips()
    patches = musicnn_patches(audio.astype(np.float32) / 32767)
    reference = reference_outputs(folder, reader, patches)
    np.savez_compressed(ROOT / "tests" / "data" / "musicnn_reference.npz", audio=audio,
                        patches=patches, **reference)
    n = sum(v.size for k, v in weights.items() if "running" not in k and "num_batches" not in k)
    print(f"{len(weights)} tensors, {n:,} trainable values; reference for {len(audio)} clips")


if __name__ == "__main__":
    main(sys.argv[1])
