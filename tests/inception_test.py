"""FID Inception: key table, conversion, layouts, preprocessing, FID/IS/KID.

The real pytorch-fid weights are not available offline, so the network runs
on a random state dict with the real key names and shapes. That checks
structure, layouts and plumbing, not the published numbers; docs/fid.md
says how the weights were cross-checked against torch.
"""

import sys
import types
import zipfile

import jax
import numpy as np
import pytest
from conftest import run_module

from ssgan_jax import errors
from ssgan_jax.evaluation import convert_inception
from ssgan_jax.evaluation import fid
from ssgan_jax.evaluation import inception
from ssgan_jax.evaluation import metrics

REPO = __file__.rsplit("/tests/", 1)[0]
OFFICIAL_LIKE_SHA = inception.SOURCE_SHA256_PREFIX + "0" * 56
SMALL = 75  # the smallest input the network takes; tests run here
_BATCH = 2  # one batch shape for every network call: one compile per size


def random_state_dict(seed: int = 0) -> dict[str, np.ndarray]:
  """Torch-layout random weights that keep activations O(1) at every depth.

  He-scaled conv weights, BN scales near 1 and variances near 1, plus the
  scalar `num_batches_tracked` entries the official file carries.
  """
  rng = np.random.default_rng(seed)
  sd = {}
  for key, shape in inception.expected_torch_shapes().items():
    if key.endswith("conv.weight"):
      std = np.sqrt(2.0 / np.prod(shape[1:]))
      sd[key] = rng.standard_normal(shape, np.float32) * np.float32(std)
    elif key.endswith(("bn.weight", "running_var")):
      sd[key] = rng.uniform(0.5, 1.5, shape).astype(np.float32)
    else:
      sd[key] = rng.normal(0.0, 0.1, shape).astype(np.float32)
    if key.endswith("bn.running_mean"):
      sd[key.replace("running_mean", "num_batches_tracked")] = np.array(7)
  return sd


@pytest.fixture(scope="module")
def state_dict():
  return random_state_dict()


@pytest.fixture(scope="module")
def converted(state_dict):
  return inception.convert_state_dict(state_dict)


@pytest.fixture(scope="module")
def weights_path(converted, tmp_path_factory):
  path = tmp_path_factory.mktemp("w") / "fid_inception.npz"
  convert_inception.save_npz(path, converted, OFFICIAL_LIKE_SHA)
  return path


@pytest.fixture(scope="module")
def variables(weights_path):
  return inception.load_params(weights_path)


@pytest.fixture(scope="module")
def images():
  """Four 16x16 RGB uint8 images: two smooth, two noisy."""
  rng = np.random.default_rng(1)
  smooth = np.linspace(0, 255, 16)[None, :, None, None] * np.ones(
    (2, 16, 16, 3)
  )
  smooth[1] = smooth[1].transpose(1, 0, 2)
  noisy = rng.integers(0, 256, (2, 16, 16, 3))
  return np.concatenate([smooth, noisy]).astype(np.uint8)


def one_line(e: pytest.ExceptionInfo) -> str:
  message = str(e.value)
  assert "\n" not in message
  return message


# --- Key table and conversion ------------------------------------------------


def test_key_table_matches_module_and_torch():
  torch_shapes = inception.expected_torch_shapes()
  # 94 BasicConv2d (conv + 4 BN entries) + fc.weight + fc.bias.
  assert len(torch_shapes) == 94 * 5 + 2
  assert torch_shapes["Conv2d_1a_3x3.conv.weight"] == (32, 3, 3, 3)
  assert torch_shapes["Mixed_5b.branch1x1.conv.weight"] == (64, 192, 1, 1)
  assert torch_shapes["Mixed_6b.branch7x7_2.conv.weight"] == (128, 128, 1, 7)
  assert torch_shapes["Mixed_7c.branch_pool.conv.weight"] == (192, 2048, 1, 1)
  assert torch_shapes["Mixed_7c.branch3x3dbl_3b.bn.running_var"] == (384,)
  assert torch_shapes["fc.weight"] == (1008, 2048)
  assert torch_shapes["fc.bias"] == (1008,)
  # The whole state dict of pytorch-fid's network (a torch transcription of
  # it had exactly this many values).
  assert sum(np.prod(s) for s in torch_shapes.values()) == 23_885_392
  module = jax.tree_util.tree_flatten_with_path(inception.abstract_variables())
  got = {
    "/".join(k.key for k in path): tuple(leaf.shape) for path, leaf in module[0]
  }
  assert got == inception.expected_flax_shapes()


def test_convert_moves_layouts(state_dict, converted):
  w = state_dict["Conv2d_1a_3x3.conv.weight"]  # [O, I, H, W]
  np.testing.assert_array_equal(
    converted["params/Conv2d_1a_3x3/conv/kernel"], w.transpose(2, 3, 1, 0)
  )
  k = converted["params/Mixed_6b/branch7x7_2/conv/kernel"]
  assert k.shape == (1, 7, 128, 128)  # (kh, kw, in, out): 1x7 stays 1x7
  np.testing.assert_array_equal(
    converted["params/fc/kernel"], state_dict["fc.weight"].T
  )
  bn = "Mixed_5b.branch1x1.bn."
  pairs = {
    "weight": "params/Mixed_5b/branch1x1/bn/scale",
    "bias": "params/Mixed_5b/branch1x1/bn/bias",
    "running_mean": "batch_stats/Mixed_5b/branch1x1/bn/mean",
    "running_var": "batch_stats/Mixed_5b/branch1x1/bn/var",
  }
  for torch_name, flat_name in pairs.items():
    np.testing.assert_array_equal(
      converted[flat_name], state_dict[bn + torch_name]
    )
  assert not any("num_batches" in k for k in converted)
  assert set(converted) == set(inception.expected_flax_shapes())


@pytest.mark.parametrize(
  "change, needle",
  [
    ("drop", "lacks key 'Mixed_6c.branch7x7dbl_3.bn.running_var'"),
    ("extra", "unexpected key 'AuxLogits.fc.weight'"),
    ("extra_counter", "unexpected key 'nope.num_batches_tracked'"),
    ("shape", "'Mixed_6c.branch7x7dbl_3.bn.running_var' has shape (3,)"),
  ],
)
def test_convert_rejects_other_networks(state_dict, change, needle):
  sd = dict(state_dict)
  key = "Mixed_6c.branch7x7dbl_3.bn.running_var"
  if change == "drop":
    del sd[key]
  elif change == "extra":
    sd["AuxLogits.fc.weight"] = np.zeros((1008, 768), np.float32)
  elif change == "extra_counter":
    sd["nope.num_batches_tracked"] = np.array(1)
  else:
    sd[key] = np.ones(3, np.float32)
  with pytest.raises(errors.UserError) as e:
    inception.convert_state_dict(sd, where="x.pth")
  assert needle in one_line(e)
  assert one_line(e).startswith("x.pth")


# --- Layouts and preprocessing against hand-written numpy --------------------


def numpy_basic_conv(x_nchw, sd, name, stride, padding):
  """torch's BasicConv2d in plain numpy: cross-correlation, BN, ReLU."""
  w = sd[f"{name}.conv.weight"].astype(np.float64)  # [O, I, KH, KW]
  o, _, kh, kw = w.shape
  ph, pw = padding
  x = np.pad(x_nchw.astype(np.float64), ((0, 0), (0, 0), (ph, ph), (pw, pw)))
  n, _, h, wd = x.shape
  oh, ow = (h - kh) // stride + 1, (wd - kw) // stride + 1
  out = np.zeros((n, o, oh, ow))
  for i in range(kh):
    for j in range(kw):
      patch = x[
        :, :, i : i + stride * oh : stride, j : j + stride * ow : stride
      ]
      out += np.einsum("nchw,oc->nohw", patch, w[:, :, i, j])
  g = lambda s: sd[f"{name}.bn.{s}"][None, :, None, None]
  out = (out - g("running_mean")) / np.sqrt(g("running_var") + 1e-3)
  return np.maximum(out * g("weight") + g("bias"), 0.0)


@pytest.mark.parametrize(
  "name, cin, kernel, stride, padding, hw",
  [
    ("Conv2d_1a_3x3", 3, (3, 3), 2, (0, 0), (9, 11)),
    ("Mixed_6b.branch7x7_2", 128, (1, 7), 1, (0, 3), (5, 9)),
  ],
)
def test_conv_layout_matches_numpy_nchw(
  state_dict, variables, name, cin, kernel, stride, padding, hw
):
  rng = np.random.default_rng(2)
  x = rng.standard_normal((2, cin, *hw)).astype(np.float32)  # NCHW
  want = numpy_basic_conv(x, state_dict, name, stride, padding)
  path = name.split(".")
  sub = {c: variables[c] for c in ("params", "batch_stats")}
  for p in path:
    sub = {c: t[p] for c, t in sub.items()}
  layer = inception.BasicConv(
    sub["params"]["conv"]["kernel"].shape[-1], kernel, stride, padding
  )
  got = layer.apply(sub, x.transpose(0, 2, 3, 1))  # NHWC
  np.testing.assert_allclose(
    np.asarray(got).transpose(0, 3, 1, 2), want, rtol=1e-4, atol=1e-4
  )


def test_resize_matrix_is_torch_bilinear_half_pixel():
  m = inception.resize_matrix
  # Upscale 2 -> 4: source x = (d + 0.5) / 2 - 0.5, clamped at both ends.
  np.testing.assert_allclose(
    m(2, 4), [[1, 0], [0.75, 0.25], [0.25, 0.75], [0, 1]]
  )
  # Downscale without antialiasing: only two taps, whatever the ratio.
  np.testing.assert_allclose(m(4, 2), [[0.5, 0.5, 0, 0], [0, 0, 0.5, 0.5]])
  np.testing.assert_allclose(
    m(5, 2), [[0.25, 0.75, 0, 0, 0], [0, 0, 0, 0.75, 0.25]]
  )
  np.testing.assert_allclose(m(32, 299).sum(axis=1), 1.0, rtol=1e-6)
  x = np.random.default_rng(3).uniform(0, 1, (1, 5, 7, 3)).astype(np.float32)
  assert inception.resize_bilinear(x, 5).shape == (1, 5, 5, 3)
  # Affine maps commute with the resize: resizing [-1, 1] images equals
  # pytorch-fid's resize of [0, 1] images followed by 2x - 1.
  a = np.asarray(inception.resize_bilinear(2 * x - 1, 11))
  b = 2 * np.asarray(inception.resize_bilinear(x, 11)) - 1
  np.testing.assert_allclose(a, b, atol=1e-6)


# --- The whole network -------------------------------------------------------


def test_network_runs_at_299(variables, images):
  pool, logits = inception.features_and_logits(
    variables, images[:3], batch_size=_BATCH
  )  # 16x16 -> 299x299; 3 images = one full and one padded batch
  assert pool.shape == (3, inception.FEATURE_DIM) and pool.dtype == np.float64
  assert logits.shape == (3, inception.NUM_LOGITS)
  assert np.isfinite(pool).all() and np.isfinite(logits).all()
  assert (pool >= 0).all()  # the mean of ReLU outputs
  assert pool.std() > 0 and not np.allclose(pool[0], pool[1])


def test_batchnorm_uses_running_stats(variables, images):
  """A feature depends on its own image only, never on its batch."""

  def f(x):
    return inception.features_and_logits(variables, x, _BATCH, SMALL)

  with_b, _ = f(images[[0, 1]])
  with_c, _ = f(images[[0, 2]])
  np.testing.assert_allclose(with_b[0], with_c[0], rtol=1e-5, atol=1e-6)
  # uint8 and float [-1, 1] inputs and 1 vs 3 identical channels agree.
  grey = images[:2, ..., :1]
  as_float, _ = f(grey.astype(np.float32) / 127.5 - 1)
  as_rgb, _ = f(np.repeat(grey, 3, axis=-1))
  np.testing.assert_allclose(as_float, as_rgb, rtol=1e-5, atol=1e-6)


def test_runs_under_transfer_guard(variables, images):
  """The trainer's periodic evaluation forbids implicit transfers."""
  with jax.transfer_guard("disallow"):
    pool, _ = inception.features_and_logits(variables, images[:2], _BATCH, 75)
  assert pool.shape == (2, inception.FEATURE_DIM)


def test_too_small_input_is_refused(variables, images):
  with pytest.raises(errors.UserError) as e:
    inception.features_and_logits(variables, images, _BATCH, resize_to=None)
  assert "at least 75x75" in one_line(e)


# --- Loading weights ---------------------------------------------------------


def test_missing_weights_file_names_url_and_command(tmp_path):
  with pytest.raises(errors.UserError) as e:
    inception.load_params(tmp_path / "fid_inception.npz")
  message = one_line(e)
  assert "not found" in message
  assert inception.WEIGHTS_URL in message
  assert "python -m ssgan_jax.evaluation.convert_inception --pth" in message


def test_bad_weights_files_are_refused(tmp_path, converted):
  junk = tmp_path / "junk.npz"
  junk.write_bytes(b"not a zip")
  with pytest.raises(errors.UserError, match="not an .npz archive"):
    inception.load_params(junk)
  flat = dict(converted)
  flat["params/fc/bias"] = np.zeros(1000, np.float32)
  wrong = tmp_path / "wrong.npz"
  convert_inception.save_npz(wrong, flat, OFFICIAL_LIKE_SHA)
  with pytest.raises(errors.UserError) as e:
    inception.load_params(wrong)
  assert "'params/fc/bias' has shape (1000,), expected (1008,)" in one_line(e)
  plain = tmp_path / "plain.npz"
  np.savez(plain, **converted)  # no format marker: not from the converter
  with pytest.raises(errors.UserError, match="not an FID Inception file"):
    inception.load_params(plain)


def test_unofficial_source_warns_or_fails_when_strict(
  tmp_path, converted, caplog
):
  path = tmp_path / "other.npz"
  convert_inception.save_npz(path, converted, "ab" * 32)
  with caplog.at_level("WARNING"):
    inception.load_params(path)
  assert "not pytorch-fid's" in caplog.text
  with pytest.raises(errors.UserError, match="sha256 abababab"):
    inception.load_params(path, strict=True)


def test_pth_without_torch_says_how(tmp_path, monkeypatch):
  pth = tmp_path / inception.WEIGHTS_FILENAME
  pth.write_bytes(b"\x80\x02")
  monkeypatch.setitem(sys.modules, "torch", None)  # import torch fails
  with pytest.raises(errors.UserError) as e:
    inception.load_params(pth)
  assert one_line(e) == (
    "pip install torch (CPU) to read .pth; or pass an already converted .npz"
  )


def test_network_id_names_weights_and_size(variables, converted):
  assert inception.network_id(variables).startswith("fid_inception_v3-")
  assert inception.network_id(variables, SMALL).endswith(f"@{SMALL}")
  other = inception.unflatten(
    {k: v + 1 if k.endswith("fc/bias") else v for k, v in converted.items()}
  )
  assert inception.network_id(other) != inception.network_id(variables)


# --- Statistics and scores ---------------------------------------------------


@pytest.fixture(scope="module")
def stats(variables, images):
  return fid.compute_reference_stats(
    images, variables, batch_size=_BATCH, resize_to=SMALL
  )


def test_fid_of_a_set_with_itself_is_zero(stats, variables, images, tmp_path):
  path = tmp_path / "ref.npz"
  fid.save_stats(path, stats)
  loaded = fid.load_stats(path, variables)
  for key in ("mu", "sigma", "features"):
    np.testing.assert_array_equal(loaded[key], stats[key])
  for key in ("n", "network", "feature_sha256", "resize_to"):
    assert loaded[key] == stats[key]
  assert loaded["n"] == 4 and loaded["features"].dtype == np.float32
  result = fid.evaluate_images(images, loaded, variables, batch_size=_BATCH)
  # N = 4 < 2048: sigma is singular, so FD takes the eps = 1e-6 fallback,
  # which moves it by about -2 * eps * 2048.
  assert abs(result["fid"]) < 1e-2
  assert result["feature_sha256"] == stats["feature_sha256"]
  assert 1.0 <= result["inception_score"] <= 4.0  # at most N classes
  assert result["num_images"] == result["num_reference"] == 4
  assert result["network"] == stats["network"]
  assert result["kid_subset_size"] == 4 and np.isfinite(result["kid_mean"])
  # A different set is farther away.
  other = fid.evaluate_images(
    images[[0, 0, 1, 1]], loaded, variables, batch_size=_BATCH
  )
  assert other["fid"] > 1.0


def test_fd_from_features_equals_fd_from_moments():
  rng = np.random.default_rng(4)
  a = rng.standard_normal((40, 16))
  b = rng.standard_normal((30, 16)) * 1.5 + 0.3
  want = metrics.frechet_distance(
    *metrics.feature_stats(a), *metrics.feature_stats(b)
  )
  np.testing.assert_allclose(
    fid.frechet_distance_features(a, b), want, rtol=1e-8
  )
  # N < D: singular covariances, where the moments route adds 1e-6 * I.
  few = fid.frechet_distance_features(a[:5], b[:7])
  slow = metrics.frechet_distance(
    *metrics.feature_stats(a[:5]), *metrics.feature_stats(b[:7])
  )
  np.testing.assert_allclose(few, slow, atol=1e-3)
  assert abs(fid.frechet_distance_features(a[:5], a[:5])) < 1e-10


def test_kid_is_omitted_without_reference_features(
  stats, variables, images, monkeypatch
):
  lean = {k: v for k, v in stats.items() if k != "features"}
  # Without features FD takes the 2048x2048 sqrtm route (minutes on two
  # CPU cores); metrics_test covers it, so here only the plumbing counts.
  calls = []
  monkeypatch.setattr(
    fid.metrics, "frechet_distance", lambda *a: calls.append(a) or 0.0
  )
  result = fid.evaluate_images(images, lean, variables, batch_size=_BATCH)
  assert "kid_mean" not in result and result["fid"] == 0.0
  mu_ref, _, mu, _ = calls[0]
  np.testing.assert_array_equal(mu_ref, stats["mu"])
  assert mu.shape == (inception.FEATURE_DIM,)
  assert "omitted" in fid.summary(result)
  kept = fid.compute_reference_stats(
    [images[:3], images[3:]], variables, _BATCH, SMALL, keep_features=False
  )  # chunks, as a dataset iterator gives them
  assert "features" not in kept
  assert kept["feature_sha256"] == stats["feature_sha256"]


def test_stats_of_another_network_are_refused(stats, variables, tmp_path):
  path = tmp_path / "ref.npz"
  fid.save_stats(path, {**stats, "network": "fid_inception_v3-0123456789ab"})
  with pytest.raises(errors.UserError) as e:
    fid.load_stats(path, variables)
  assert "computed with network fid_inception_v3-0123456789ab" in one_line(e)
  fid.save_stats(path, {**stats, "resize_to": inception.IMAGE_SIZE})
  with pytest.raises(errors.UserError, match="recompute"):
    fid.load_stats(path, variables)  # same weights, other input size


def test_damaged_stats_files_are_refused(stats, tmp_path):
  path = tmp_path / "ref.npz"
  with pytest.raises(errors.UserError, match="does not exist; make it with"):
    fid.load_stats(path)
  fid.save_stats(path, stats)
  data = path.read_bytes()
  path.write_bytes(data[: len(data) // 2])  # truncated copy
  with pytest.raises(errors.UserError) as e:
    fid.load_stats(path)
  assert "are damaged" in one_line(e)
  fid.save_stats(path, {k: v for k, v in stats.items() if k != "sigma"})
  with pytest.raises(errors.UserError, match="lack 'sigma'"):
    fid.load_stats(path)
  fid.save_stats(path, {**stats, "mu": stats["mu"][:10]})
  with pytest.raises(errors.UserError, match=r"mu \(10,\)"):
    fid.load_stats(path)
  assert zipfile.is_zipfile(path)


@pytest.mark.parametrize(
  "array, needle",
  [
    (np.zeros((4, 3, 16, 16), np.uint8), "channels-first"),
    (np.zeros((4, 16, 16, 3), np.int32), "dtype int32"),
    (np.full((4, 16, 16, 3), 2.0, np.float32), "must be in [-1, 1]"),
    (np.full((4, 16, 16, 3), np.nan, np.float32), "NaN"),
    (np.zeros((1, 16, 16, 3), np.uint8), "at least 2 are needed"),
  ],
)
def test_bad_images_are_refused(array, needle):
  with pytest.raises(errors.UserError) as e:
    fid.check_images(array)
  assert needle in one_line(e)


def test_command_line_make_stats_then_score(weights_path, images, tmp_path):
  """The CLI's work in-process (299 like real runs), then one subprocess."""
  imgs = tmp_path / "real.npz"
  np.savez(imgs, images=images[:2, ..., :1])  # grey: repeated to RGB
  ref = tmp_path / "ref.npz"
  made = fid.run(_make_stats_flags(weights_path, ref, images=str(imgs)))
  assert made["n"] == 2 and made["kept_features"] and ref.is_file()
  result = fid.run(
    _make_stats_flags(
      weights_path, None, images=str(imgs), make_stats=False, stats=str(ref)
    )
  )
  assert abs(result["fid"]) < 1e-2 and result["kid_subsets"] == 10
  proc = run_module(
    "ssgan_jax.evaluation.fid",
    f"--inception={tmp_path / 'missing.npz'}",
    f"--images={imgs}",
    f"--stats={ref}",
    timeout=120,
  )
  assert proc.returncode == 2, proc.stderr
  lines = proc.stderr.strip().splitlines()
  assert lines[-1].startswith("error: FID Inception weights")
  assert inception.WEIGHTS_URL in lines[-1] and len(lines) == 1


def _make_stats_flags(weights_path, out, **kw):
  return types.SimpleNamespace(
    **{
      "inception": str(weights_path),
      "images": None,
      "stats": None,
      "make_stats": True,
      "out": None if out is None else str(out),
      "keep_features": "auto",
      "batch_size": _BATCH,
      "kid_subsets": 10,
      "kid_subset_size": 1000,
      "seed": 0,
      "config": None,
      "split": None,
      "num_images": 0,
      **kw,
    }
  )


def test_reference_stats_from_a_config_use_the_input_pipeline(
  weights_path, tmp_path
):
  # --config: the dataset's eval split (the embedded Fashion-MNIST test
  # split here), preprocessed as evaluation reads it; the same statistics
  # as --images of the same images.
  from conftest import tiny_config  # pylint: disable=g-import-not-at-top

  from ssgan_jax import input_pipeline  # pylint: disable=g-import-not-at-top

  config = tiny_config()
  assert config.dataset.eval_split == "test"
  made = fid.run(
    _make_stats_flags(
      weights_path, tmp_path / "cfg.npz", config=config, num_images=2
    )
  )
  assert made["reference"] == "fashion_mnist:test" and made["n"] == 2
  want, _ = input_pipeline.load_split(config.dataset, "test")
  assert want.shape[1:] == (32, 32, 1)
  np.savez(tmp_path / "real.npz", images=want[:2])
  same = fid.run(
    _make_stats_flags(
      weights_path, tmp_path / "npz.npz", images=str(tmp_path / "real.npz")
    )
  )
  assert same["feature_sha256"] == made["feature_sha256"]
  stats = fid.load_stats(tmp_path / "cfg.npz")
  assert stats["reference"] == "fashion_mnist:test"
  # Another split is other images.
  train = fid.run(
    _make_stats_flags(
      weights_path,
      tmp_path / "train.npz",
      config=config,
      split="train",
      num_images=2,
    )
  )
  assert train["reference"] == "fashion_mnist:train"
  assert train["feature_sha256"] != made["feature_sha256"]


@pytest.mark.parametrize(
  "kw, needle",
  [
    ({"config": "CFG", "images": "x.npz"}, "pass one source of real images"),
    (
      {"config": "CFG", "make_stats": False, "stats": "s.npz"},
      "--make_stats only",
    ),
    ({"split": "test", "images": "x.npz"}, "apply only with --config"),
    ({"config": "CFG", "num_images": -1}, "--num_images=-1 must be >= 0"),
    ({}, "or --make_stats --config CONFIG"),
  ],
)
def test_bad_reference_sources(kw, needle, tmp_path):
  from conftest import tiny_config  # pylint: disable=g-import-not-at-top

  if kw.get("config") == "CFG":
    kw["config"] = tiny_config()
  with pytest.raises(errors.UserError) as e:
    fid.run(_make_stats_flags("w.npz", tmp_path / "o.npz", **kw))
  assert needle in one_line(e)
  assert not (tmp_path / "o.npz").exists()


def test_training_evaluator_scores_with_the_inception_files(
  stats, weights_path, images, tmp_path
):
  from conftest import tiny_config  # pylint: disable=g-import-not-at-top

  from ssgan_jax.evaluation import evaluators  # pylint: disable=g-import-not-at-top

  path = tmp_path / "ref.npz"
  fid.save_stats(path, stats)
  config = tiny_config(
    **{
      "eval.evaluator": "inception",
      "eval.inception_weights": str(weights_path),
      "eval.reference_stats": str(path),
      "eval.reference": "test_images",
    }
  )
  score = evaluators.EVALUATORS.get("inception").build(config, "eval")
  result = score(images.astype(np.float32) / 127.5 - 1.0)
  assert abs(result["fid"]) < 1e-2 and result["reference"] == "test_images"
  assert result["num_images"] == 4
