import pytest
import torch

from sklearn_songpop.nets import ContrastiveNet, PaperCNN, SongpopCNN


def test_paper_cnn_shapes_and_parameters():
    net = PaperCNN()
    x = torch.zeros(3, 1, 160, 160)
    h = net._pool(torch.nn.functional.leaky_relu(net.conv1(net._same(x)), 0.05))
    assert h.shape == (3, 32, 40, 40)
    h = net._pool(torch.nn.functional.leaky_relu(net.conv2(net._same(h)), 0.05))
    assert h.shape == (3, 64, 10, 10)
    assert net.dense.in_features == 6400 and net.dense.out_features == 500
    assert net.conv1.kernel_size == (10, 10) and net.conv2.out_channels == 64
    assert net(x).shape == (3, 2)


def test_paper_cnn_initialisation_follows_the_seed():
    torch.manual_seed(0)
    net = PaperCNN()
    w = net.dense.weight
    assert w.std().item() == pytest.approx(0.03 * 0.88, rel=0.05)  # truncated at 2 std
    assert w.abs().max().item() <= 0.06 + 1e-6
    assert net.conv1.bias.std().item() > 0.5  # std 1.0, as the seed's code
    assert net.out.bias.abs().max().item() <= 0.02 + 1e-6


def test_paper_cnn_output_leaky_relu():
    net = PaperCNN().eval()
    torch.manual_seed(0)
    out = net(torch.rand(64, 1, 160, 160))
    pre = net.out(torch.nn.functional.leaky_relu(net.dense(
        torch.flatten(net._pool(torch.nn.functional.leaky_relu(net.conv2(net._same(
            net._pool(torch.nn.functional.leaky_relu(net.conv1(net._same(
                torch.rand(1, 1, 160, 160))), 0.05)))), 0.05)), 1)), 0.05))
    assert pre.shape == (1, 2)
    negative = out[out < 0]
    if negative.numel():
        assert negative.min().item() > -10  # squashed by slope 0.03


@pytest.mark.parametrize("shape", [(128, 130), (64, 40), (1, 7), (20, 1)])
def test_songpop_cnn_any_input_size(shape):
    net = SongpopCNN(n_classes=3)
    assert net(torch.randn(2, 1, *shape)).shape == (2, 3)


def test_songpop_cnn_is_compact():
    assert sum(p.numel() for p in SongpopCNN().parameters()) < 100_000


def _eval_net(instance_norm: bool) -> SongpopCNN:
    torch.manual_seed(0)
    return SongpopCNN(instance_norm=instance_norm).eval()


def test_instance_norm_ignores_level_and_contrast():
    x = torch.randn(3, 1, 32, 40) * 10 - 40
    net = _eval_net(True)
    torch.testing.assert_close(net(x), net(3.0 * x - 12.0), atol=1e-4, rtol=1e-4)
    # the batch norm alone, in eval mode, hears both
    assert not torch.allclose(_eval_net(False)(x), _eval_net(False)(3.0 * x - 12.0),
                              atol=1e-3)


def test_instance_norm_of_a_silent_spectrogram_stays_finite():
    out = _eval_net(True)(torch.full((2, 1, 16, 20), -80.0))
    assert torch.isfinite(out).all()


def test_instance_norm_is_checked_and_a_body_loads_only_into_its_kind():
    with pytest.raises(ValueError, match="instance_norm must be True or False, got 'yes'"):
        SongpopCNN(instance_norm="yes")
    body = ContrastiveNet(instance_norm=True).body_state_dict()
    with pytest.raises(ValueError, match="trained with instance_norm=True, this network has "
                                         "instance_norm=False"):
        SongpopCNN().load_body_state_dict(body)
    with pytest.raises(ValueError, match="trained with instance_norm=False, this network has "
                                         "instance_norm=True"):
        SongpopCNN(instance_norm=True).load_body_state_dict(SongpopCNN().body_state_dict())
    net = SongpopCNN(instance_norm=True)
    net.load_body_state_dict(body)
    torch.testing.assert_close(net.body_state_dict(), body)


def test_a_network_pickled_before_instance_norm_reads_input_as_before():
    net = _eval_net(False)
    x = torch.randn(2, 1, 16, 20)
    before = net(x)
    del net.__dict__["_instance_norm"]  # as unpickled from a version without the parameter
    torch.testing.assert_close(net(x), before)
    assert "instance_normed" not in net.state_dict()
