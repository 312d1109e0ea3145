r"""Transformer-tiny's size and regularisation on validation BLEU (issue 29): a TPE search at a
3,200-update budget (the main run reached training-time validation BLEU 40.57 there, 42.17 at its
best, 6,800), the median pruner stopping trials that fall behind.

  taskset -c 1 python -m s2s_jax.bin.sweep \
      --config=experiments/2026-12-05_transformer_multi30k/config.py \
      --sweep=experiments/2026-12-05_transformer_multi30k/sweep.py \
      --workdir=runs/transformer_sweep
"""

from s2s_jax import hyper


def get_sweep():
  return hyper.search(
      {
          "model.transformer_dropout_prepost": hyper.uniform(0.2, 0.45),
          "model.transformer_dropout_attention": hyper.choice([0.0, 0.1, 0.2]),
          "model.transformer_dropout_act": hyper.choice([0.0, 0.1, 0.2]),
          "model.transformer_feed_forward_num_hidden": hyper.choice([256, 512]),
          "model.transformer_attention_heads": hyper.choice([4, 8]),
          "train.label_smoothing": hyper.choice([0.1, 0.2]),
      },
      sampler="tpe", num_trials=12, pruner="median", seed=29,
      # The budget: the schedule of the full run (warm-up 2,000) cut at 3,200 updates; keep only
      # the best checkpoint's neighbours.
      fixed={"train.max_num_batches": 3200, "train.keep_last_checkpoints": 2},
      objective=("validation:bleu", "maximize"))
