"""The shared augmentations on tiny images, against results worked out by hand."""

import pytest
import torch

from ganagerie.plugins import augment_ops as aug

GRID = torch.arange(16.0).view(1, 1, 4, 4)  # rows 0-3, 4-7, 8-11, 12-15


def t(*values):
    return torch.tensor(values)


def test_brightness_adds_a_per_sample_shift():
    x = torch.zeros(2, 1, 2, 2)
    out = aug.brightness(x, t(0.5, -0.25))
    assert out[0].flatten().tolist() == [0.5] * 4 and out[1].flatten().tolist() == [-0.25] * 4


def test_saturation_scales_the_deviation_from_the_channel_mean():
    x = t(1.0, 3.0).view(1, 2, 1, 1)  # channel mean 2, deviations -1 and +1
    assert aug.saturation(x, t(0.5)).flatten().tolist() == [1.5, 2.5]
    assert aug.saturation(x, t(0.0)).flatten().tolist() == [2.0, 2.0]


def test_contrast_scales_the_deviation_from_the_image_mean_or_a_given_centre():
    x = t(0.0, 2.0, 4.0, 6.0).view(1, 1, 2, 2)  # image mean 3
    assert aug.contrast(x, t(2.0)).flatten().tolist() == [-3.0, 1.0, 5.0, 9.0]
    assert aug.contrast(x, t(2.0), center=0.0).flatten().tolist() == [0.0, 4.0, 8.0, 12.0]


def test_translation_by_a_known_shift_with_zero_padding():
    # down one row, left one column: out[i, j] = x[i - 1, j + 1]
    out = aug.translate(GRID, t(1), t(-1))
    assert out[0, 0].tolist() == [[0, 0, 0, 0], [1, 2, 3, 0], [5, 6, 7, 0], [9, 10, 11, 0]]


def test_translation_with_reflection_mirrors_at_the_border():
    out = aug.translate(GRID, t(1), t(-1), padding="reflect")
    # row -1 reads row 1, column 4 reads column 2
    assert out[0, 0].tolist() == [[5, 6, 7, 6], [1, 2, 3, 2], [5, 6, 7, 6], [9, 10, 11, 10]]


def test_translation_is_per_sample():
    x = GRID.repeat(2, 3, 1, 1)  # two samples, three channels
    out = aug.translate(x, t(0, -2), t(0, 0))
    assert torch.equal(out[0], x[0])
    assert out[1, 2].tolist() == [[8, 9, 10, 11], [12, 13, 14, 15], [0] * 4, [0] * 4]


def test_flip_mirrors_only_the_chosen_samples():
    x = torch.arange(4.0).view(1, 1, 2, 2).repeat(2, 1, 1, 1)
    out = aug.flip(x, t(True, False))
    assert out[0, 0].tolist() == [[1, 0], [3, 2]] and out[1, 0].tolist() == [[0, 1], [2, 3]]


def test_rotate90_turns_each_sample_its_own_number_of_quarter_turns():
    x = torch.arange(4.0).view(1, 1, 2, 2).repeat(5, 1, 1, 1)  # [[0, 1], [2, 3]]
    out = aug.rotate90(x, t(0, 1, 2, 3, 4))
    assert [o[0].tolist() for o in out] == [
        [[0, 1], [2, 3]], [[1, 3], [0, 2]], [[3, 2], [1, 0]], [[2, 0], [3, 1]], [[0, 1], [2, 3]]]
    with pytest.raises(ValueError, match="square"):
        aug.rotate90(torch.zeros(1, 1, 2, 3), t(1))


def test_cutout_zeroes_a_square_clipped_at_the_border():
    out = aug.cutout(torch.ones(2, 1, 4, 4), t(1, 0), t(2, 0), (2, 2))
    assert out[0, 0].tolist() == [[1, 0, 0, 1], [1, 0, 0, 1], [1, 1, 1, 1], [1, 1, 1, 1]]
    # centred on the corner: only the quarter inside the image is cut
    assert out[1, 0].flatten().tolist() == [0] + [1] * 15


def test_gradient_of_a_translation_reaches_the_pixels_that_stay_in_view():
    x = GRID.clone().requires_grad_(True)
    aug.translate(x, t(1), t(-1)).sum().backward()
    # rows 0-2 of columns 1-3 land in the output; row 3 and column 0 fall off
    expected = torch.zeros(4, 4)
    expected[:3, 1:] = 1
    assert torch.equal(x.grad[0, 0], expected)


def test_gradient_of_saturation_by_hand():
    x = t(1.0, 3.0).view(1, 2, 1, 1).requires_grad_(True)
    aug.saturation(x, t(0.5))[:, 0].sum().backward()
    # out_0 = s x_0 + (1 - s) (x_0 + x_1) / 2: d/dx_0 = s + (1 - s) / 2, d/dx_1 = (1 - s) / 2
    assert x.grad.flatten().tolist() == [0.75, 0.25]


@pytest.mark.parametrize("op", [
    lambda x: aug.brightness(x, t(0.3, -0.2)),
    lambda x: aug.saturation(x, t(0.5, 1.7)),
    lambda x: aug.contrast(x, t(0.5, 1.5)),
    lambda x: aug.contrast(x, t(0.5, 1.5), center=0.0),
    lambda x: aug.flip(x, t(True, False)),
    lambda x: aug.rotate90(x, t(1, 3)),
    lambda x: aug.translate(x, t(1, -2), t(-1, 0)),
    lambda x: aug.translate(x, t(1, -2), t(-1, 0), padding="reflect"),
    lambda x: aug.cutout(x, t(1, 3), t(0, 2), (2, 2)),
])
def test_every_operation_has_the_right_gradient(op):
    x = torch.randn(2, 3, 4, 4, dtype=torch.double, requires_grad=True)
    assert torch.autograd.gradcheck(op, (x,))


@pytest.mark.parametrize("name", list(aug.RANDOM_OPS))
def test_random_operations_keep_shape_leave_the_input_alone_and_pass_gradients(name):
    x = torch.randn(16, 3, 8, 8, requires_grad=True)
    before = x.detach().clone()
    torch.manual_seed(0)
    out = aug.RANDOM_OPS[name](x)
    assert out.shape == x.shape and torch.equal(x.detach(), before)
    out.sum().backward()
    assert x.grad.abs().sum() > 0
    torch.manual_seed(0)
    assert torch.equal(aug.RANDOM_OPS[name](x), out)  # the global RNG decides every draw


def test_random_color_ranges_are_the_papers():
    # on a constant grey image saturation and contrast do nothing: what is left is b ~ U[-0.5, 0.5]
    torch.manual_seed(0)
    shift = aug.random_color(torch.zeros(4000, 1, 2, 2)).flatten(1)
    assert torch.equal(shift.min(1).values, shift.max(1).values)  # one draw per sample
    assert -0.5 <= shift.min() < -0.49 and 0.49 < shift.max() <= 0.5
    # a two-level image: contrast scales its range 2 by c ~ U[0.5, 1.5]
    x = torch.tensor([-1.0, 1.0]).view(1, 1, 1, 2).repeat(4000, 1, 1, 1)
    spread = aug.random_color(x)[:, 0, 0].diff().squeeze(1) / 2
    assert 0.5 <= spread.min() < 0.51 and 1.49 < spread.max() <= 1.5


def test_random_translation_moves_at_most_an_eighth_of_the_side():
    x = torch.zeros(2000, 1, 8, 8)
    x[:, 0, 4, 4] = 1
    torch.manual_seed(0)
    where = aug.random_translation(x)[:, 0].flatten(1).argmax(1)
    rows, cols = where // 8 - 4, where % 8 - 4
    assert set(rows.tolist()) == {-1, 0, 1} and set(cols.tolist()) == {-1, 0, 1}


def test_random_cutout_removes_a_half_side_square():
    torch.manual_seed(0)
    cut = (aug.random_cutout(torch.ones(2000, 1, 8, 8)) == 0).flatten(1).sum(1)
    # a 4x4 hole, whole or clipped down to its 2x2 quarter at a corner
    assert cut.max() == 16 and cut.min() == 4


def test_policies_parse_with_commas_or_plus_and_reject_unknown_names():
    assert aug.parse_ops("color+translation", aug.RANDOM_OPS, "policy") == ("color", "translation")
    assert aug.parse_ops(" cutout , flip", aug.RANDOM_OPS, "policy") == ("cutout", "flip")
    with pytest.raises(ValueError, match="did you mean 'color'"):
        aug.parse_ops("colour", aug.RANDOM_OPS, "policy")
    with pytest.raises(ValueError, match="policy is empty"):
        aug.parse_ops("", aug.RANDOM_OPS, "policy")
    with pytest.raises(ValueError, match="twice"):
        aug.parse_ops("flip,flip", aug.RANDOM_OPS, "policy")


def test_vector_data_is_refused():
    aug.require_images((1, 8, 8), "x")
    with pytest.raises(ValueError, match="works on images"):
        aug.require_images((2,), "x")
