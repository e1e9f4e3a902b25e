"""Plain torch networks that read one spectrogram ``(batch, 1, n_bins, n_frames)``.

They return logits ``(batch, n_classes)``; the classifier adds the interval
axis, the loss and the song-level averaging. Nothing here knows of skorch or
scikit-learn.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["ContrastiveNet", "PaperCNN", "SongpopCNN"]


def _truncated_normal_(tensor: torch.Tensor, std: float) -> torch.Tensor:
    """Normal(0, std) redrawn outside two standard deviations (TensorFlow's truncated_normal)."""
    return nn.init.trunc_normal_(tensor, mean=0.0, std=std, a=-2 * std, b=2 * std)


class PaperCNN(nn.Module):
    """The seed paper's network, layer for layer.

    conv 10x10 (32 channels, stride 1, 'same' padding), leaky ReLU 0.05, max
    pool 4x4 stride 4 ('same'); conv 10x10 (64 channels), leaky ReLU 0.05, max
    pool 4x4 stride 4; flatten (64x10x10 = 6,400 values for a 160x160 input);
    dropout 0.5; dense 500, leaky ReLU 0.05; dropout 0.5; dense ``n_classes``;
    then leaky ReLU 0.03 on the logits.

    Parameters
    ----------
    input_shape : tuple of (int, int), default=(160, 160)
        ``(n_bins, n_frames)`` of the input image.
    n_classes : int, default=2
        Outputs.
    dropout : float, default=0.5
        Drop probability of both dropout layers (the seed's keep probability
        of 0.5).

    Notes
    -----
    Quirks of the seed kept on purpose, so that the ``"paper"`` preset shows
    what the seed did:

    - the leaky ReLU (slope 0.03) applied to the output logits before the
      softmax, which squashes negative logits;
    - convolution biases drawn from a truncated normal with standard deviation
      1.0, against 0.03 for the weights and 0.01 for the dense biases;
    - even 10x10 kernels with 'same' padding, padded one more on the bottom
      and right than on the top and left, as TensorFlow does;
    - max pooling with 'same' padding, which for a 160x160 input needs none.

    Examples
    --------
    >>> import torch
    >>> PaperCNN()(torch.zeros(2, 1, 160, 160)).shape
    torch.Size([2, 2])
    """

    def __init__(
        self, input_shape: tuple[int, int] = (160, 160), n_classes: int = 2, dropout: float = 0.5
    ) -> None:
        super().__init__()
        h, w = (int(s) for s in input_shape)
        self.conv1 = nn.Conv2d(1, 32, kernel_size=10)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=10)
        # 'same' pooling with stride 4 keeps ceil(size / 4)
        h, w = math.ceil(math.ceil(h / 4) / 4), math.ceil(math.ceil(w / 4) / 4)
        self.dense = nn.Linear(64 * h * w, 500)
        self.out = nn.Linear(500, n_classes)
        self.dropout = nn.Dropout(dropout)
        for conv in (self.conv1, self.conv2):
            _truncated_normal_(conv.weight, 0.03)
            _truncated_normal_(conv.bias, 1.0)
        for dense in (self.dense, self.out):
            _truncated_normal_(dense.weight, 0.03)
            _truncated_normal_(dense.bias, 0.01)

    @staticmethod
    def _same(x: torch.Tensor) -> torch.Tensor:
        """TensorFlow's 'same' padding for a 10x10 kernel: 4 before, 5 after."""
        return F.pad(x, (4, 5, 4, 5))

    @staticmethod
    def _pool(x: torch.Tensor) -> torch.Tensor:
        return F.max_pool2d(x, kernel_size=4, stride=4, ceil_mode=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits for a batch of images.

        Parameters
        ----------
        x : Tensor of shape (batch, 1, n_bins, n_frames)

        Returns
        -------
        Tensor of shape (batch, n_classes)
        """
        return F.leaky_relu(self.out(self.dropout(self.features(x))), 0.03)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The dense layer's 500 activations: the layer before the last.

        Parameters
        ----------
        x : Tensor of shape (batch, 1, n_bins, n_frames)

        Returns
        -------
        Tensor of shape (batch, 500)
        """
        x = self._pool(F.leaky_relu(self.conv1(self._same(x)), 0.05))
        x = self._pool(F.leaky_relu(self.conv2(self._same(x)), 0.05))
        x = self.dropout(torch.flatten(x, 1))
        return F.leaky_relu(self.dense(x), 0.05)


def _pool2(x: torch.Tensor) -> torch.Tensor:
    """2x2 max pooling that leaves an axis alone once it is down to one cell."""
    kernel = (2 if x.shape[-2] > 1 else 1, 2 if x.shape[-1] > 1 else 1)
    return F.max_pool2d(x, kernel_size=kernel, ceil_mode=True)


class SongpopCNN(nn.Module):
    """A compact CNN for log spectrograms of any size: the default network.

    The input is standardised by a batch norm, then ``len(channels)`` blocks
    of 3x3 convolution, batch norm, ReLU and 2x2 max pooling, then global
    average and max pooling over frequency and time, dropout and a linear
    layer. Global pooling makes it indifferent to the number of bins and
    frames; pooling stops on an axis that is down to one cell, so even tiny
    inputs pass.

    Parameters
    ----------
    n_classes : int, default=2
        Outputs.
    channels : tuple of int, default=(16, 32, 64, 64)
        Channels of each convolution block.
    dropout : float, default=0.3
        Drop probability before the last layer.
    instance_norm : bool, default=False
        Bring each spectrogram to zero mean and unit variance over its own
        bins and frames before the batch norm (an instance norm without
        learned scale). A recording's overall level and contrast (its
        mastering, the loudness of an artist's sound) then no longer count;
        its spectral shape and how it changes in time still do. With False,
        the batch norm alone standardises, with one mean and scale for all
        spectrograms. A body trained one way cannot start a network of the
        other (:meth:`load_body_state_dict` says so).

    Examples
    --------
    >>> import torch
    >>> net = SongpopCNN()
    >>> net(torch.zeros(4, 1, 128, 130)).shape
    torch.Size([4, 2])
    >>> sum(p.numel() for p in net.parameters())
    60660
    """

    #: networks pickled before ``instance_norm`` existed used the batch norm alone
    _instance_norm = False

    def __init__(
        self, n_classes: int = 2, channels: tuple[int, ...] = (16, 32, 64, 64),
        dropout: float = 0.3, instance_norm: bool = False,
    ) -> None:
        super().__init__()
        if instance_norm not in (True, False):
            raise ValueError(f"instance_norm must be True or False, got {instance_norm!r}")
        self._instance_norm = bool(instance_norm)
        if self._instance_norm:
            # kept in the state: a body is loaded only into a network that reads its input
            # the same way (its batch-norm statistics are those of the standardised input)
            self.register_buffer("instance_normed", torch.ones(()))
        self.input_norm = nn.BatchNorm2d(1)
        blocks = []
        in_ch = 1
        for out_ch in channels:
            blocks.append(nn.Sequential(
                nn.Conv2d(in_ch, out_ch, kernel_size=3, padding=1, bias=False),
                nn.BatchNorm2d(out_ch),
                nn.ReLU(inplace=True),
            ))
            in_ch = out_ch
        self.blocks = nn.ModuleList(blocks)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(2 * in_ch, n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The body's output: mean and max of the last block over frequency and time.

        Parameters
        ----------
        x : Tensor of shape (batch, 1, n_bins, n_frames)

        Returns
        -------
        Tensor of shape (batch, 2 * channels[-1])
        """
        if self._instance_norm:
            # biased variance, as instance norm; a constant spectrogram becomes zeros
            x = F.instance_norm(x, eps=1e-5)
        x = self.input_norm(x)
        for block in self.blocks:
            x = _pool2(block(x))
        return torch.cat([x.mean(dim=(-2, -1)), x.amax(dim=(-2, -1))], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits for a batch of spectrograms.

        Parameters
        ----------
        x : Tensor of shape (batch, 1, n_bins, n_frames)

        Returns
        -------
        Tensor of shape (batch, n_classes)
        """
        return self.head(self.dropout(self.features(x)))

    def body_modules(self) -> list[nn.Module]:
        """The layers before the head: what pretraining learns and fine-tuning starts from.

        Returns
        -------
        list of torch.nn.Module
        """
        return [self.input_norm, self.blocks]

    def body_state_dict(self) -> dict[str, torch.Tensor]:
        """The tensors of :meth:`body_modules` (weights and batch-norm statistics).

        Returns
        -------
        dict of str to Tensor
            Keys as in ``state_dict()``, without the head's.
        """
        return {k: v for k, v in self.state_dict().items() if not k.startswith("head.")}

    def load_body_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Copy a body's tensors in, leaving the head as it is.

        Parameters
        ----------
        state : dict of str to Tensor
            From :meth:`body_state_dict` of a network with the same channels.

        Raises
        ------
        ValueError
            When the keys or shapes differ (another ``channels``).
        """
        own = self.body_state_dict()
        shapes = {k: tuple(v.shape) for k, v in own.items()}
        given = {k: tuple(v.shape) for k, v in state.items()}
        mine, theirs = ("instance_normed" in d for d in (own, state))
        if mine != theirs:
            raise ValueError(
                f"the body to start from was trained with instance_norm={theirs}, this "
                f"network has instance_norm={mine} (set module__instance_norm to the "
                "encoder's)"
            )
        if shapes != given:
            raise ValueError(
                "the body to start from does not fit this network: it has the channels "
                f"{_channels(given)}, this network {_channels(shapes)} (set module__channels "
                "to the encoder's)"
            )
        with torch.no_grad():
            for key, value in state.items():
                own[key].copy_(value)


def _channels(shapes: dict[str, tuple[int, ...]]) -> tuple[int, ...]:
    """The output channels of each convolution block, read from the body's tensor shapes."""
    convs = sorted((k for k in shapes if k.startswith("blocks.") and k.endswith(".0.weight")),
                   key=lambda k: int(k.split(".")[1]))
    return tuple(shapes[k][0] for k in convs)


class ContrastiveNet(nn.Module):
    """A :class:`SongpopCNN` body with an embedding layer and a projection head.

    The embedding is the body's pooled output through a linear layer; the
    projection head (two layers) maps it to the space the contrastive loss
    compares, and is dropped after pretraining, as in SimCLR (Chen et al.
    2020), whose downstream results were better before the head than after.

    Parameters
    ----------
    embedding_dim : int, default=128
        Size of the embedding.
    projection_dim : int, default=64
        Size of the projection the loss sees.
    channels : tuple of int, default=(16, 32, 64, 64)
        Channels of each convolution block of the body.
    instance_norm : bool, default=False
        Whether the body standardises each spectrogram first (see
        :class:`SongpopCNN`); a network that starts from this body needs the
        same.

    Examples
    --------
    >>> import torch
    >>> net = ContrastiveNet()
    >>> x = torch.zeros(4, 1, 64, 130)
    >>> net(x).shape, net.embed(x).shape
    (torch.Size([4, 64]), torch.Size([4, 128]))
    """

    def __init__(
        self, embedding_dim: int = 128, projection_dim: int = 64,
        channels: tuple[int, ...] = (16, 32, 64, 64), instance_norm: bool = False,
    ) -> None:
        super().__init__()
        # the backbone's "head" is the embedding layer; no dropout in pretraining
        self.backbone = SongpopCNN(n_classes=embedding_dim, channels=channels, dropout=0.0,
                                   instance_norm=instance_norm)
        self.projection = nn.Sequential(
            nn.ReLU(), nn.Linear(embedding_dim, embedding_dim), nn.ReLU(),
            nn.Linear(embedding_dim, projection_dim),
        )

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Embeddings of a batch of spectrograms, ``(batch, embedding_dim)``.

        Parameters
        ----------
        x : Tensor of shape (batch, 1, n_bins, n_frames)

        Returns
        -------
        Tensor of shape (batch, embedding_dim)
        """
        return self.backbone(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Projections of a batch of spectrograms, for the loss.

        Parameters
        ----------
        x : Tensor of shape (batch, 1, n_bins, n_frames)

        Returns
        -------
        Tensor of shape (batch, projection_dim)
        """
        return self.projection(self.embed(x))

    def body_modules(self) -> list[nn.Module]:
        """The backbone's body (see :meth:`SongpopCNN.body_modules`).

        Returns
        -------
        list of torch.nn.Module
        """
        return self.backbone.body_modules()

    def body_state_dict(self) -> dict[str, torch.Tensor]:
        """The backbone's body tensors, keyed as in a :class:`SongpopCNN`.

        Returns
        -------
        dict of str to Tensor
        """
        return self.backbone.body_state_dict()

    def load_body_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Copy a body's tensors into the backbone.

        Parameters
        ----------
        state : dict of str to Tensor
        """
        self.backbone.load_body_state_dict(state)
