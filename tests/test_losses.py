"""The fused cross-entropy equals the textbook formula in value and gradient, with and without
label smoothing, and ignores padding."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from s2s_jax import losses


def _reference(logits, labels, eps):
  logp = jax.nn.log_softmax(logits)
  nll = -jnp.take_along_axis(logp, labels[:, None], axis=-1)[:, 0]
  loss = (1 - eps) * nll - eps * logp.mean(-1)
  mask = (labels != 0).astype(jnp.float32)
  return (loss * mask).sum(), (nll * mask).sum(), mask.sum()


@pytest.mark.parametrize("eps", [0.0, 0.1])
def test_fused_matches_reference(eps):
  k1, k2 = jax.random.split(jax.random.PRNGKey(0))
  logits = jax.random.normal(k1, (2, 5, 11)) * 3
  labels = jax.random.randint(k2, (2, 5), 0, 11).at[0, 4].set(0)
  ours = losses.cross_entropy(logits, labels, eps)
  ref = _reference(logits.reshape(-1, 11), labels.reshape(-1), eps)
  np.testing.assert_allclose(ours, ref, rtol=1e-5)
  for i in (0, 1):  # gradients of the loss and of the nll
    g_ours = jax.grad(lambda x: losses.cross_entropy(x, labels, eps)[i])(logits)
    g_ref = jax.grad(lambda x: _reference(x.reshape(-1, 11), labels.reshape(-1), eps)[i])(logits)
    np.testing.assert_allclose(g_ours, g_ref, atol=1e-6)
  assert float(jnp.abs(jax.grad(lambda x: losses.cross_entropy(x, labels, eps)[0])(logits)[0, 4]).max()) == 0


def test_accuracy_counts_non_pad_argmax_hits():
  logits = jnp.array([[[0.0, 0, 0, 0, 1], [0, 0, 0, 0, 1], [1.0, 0, 0, 0, 0]]])
  assert float(losses.correct_count(logits, jnp.array([[4, 3, 0]]))) == 1.0
