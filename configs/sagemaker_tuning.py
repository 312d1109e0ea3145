r"""SageMaker's recommended tuning ranges for seq2seq (spec §1.1) as a search, objective
validation:bleu (maximize). configs/sagemaker_tuning_job.json is the same search as a tuning job's
HyperParameterTuningJobConfig, which s2s-sweep accepts as it is:

  s2s-sweep --config=configs/sagemaker.py --config.train.optimized_metric=bleu \
      --config.data.rec.train=train.rec --config.data.rec.validation=val.rec \
      --config.data.rec.vocab=vocab/ --sweep=configs/sagemaker_tuning.py --workdir=runs/tuning

Left out: `momentum` (SageMaker applies it to sgd only; here it is an error beside adam) and
`weight_init_scale` (its range depends on weight_init_type).
"""

from s2s_jax import hyper


def get_sweep():
  return hyper.search({
      "data.batch_size": hyper.choice([16, 32, 64, 128, 256, 512, 1024, 2048]),
      "train.optimizer_type": hyper.choice(["adam", "sgd", "rmsprop"]),
      "train.learning_rate": hyper.loguniform(0.00005, 0.2),
      "train.weight_decay": hyper.uniform(0.0, 0.1),
      "train.clip_gradient": hyper.uniform(1.0, 5.0),
      "model.num_layers_encoder": hyper.integer(1, 10),
      "model.num_layers_decoder": hyper.integer(1, 10),
      "model.rnn_num_hidden": hyper.choice([128, 256, 512, 1024, 2048]),
      "model.num_embed_source": hyper.integer(256, 512),
      "model.num_embed_target": hyper.integer(256, 512),
      "model.embed_dropout_source": hyper.uniform(0.0, 0.5),
      "model.embed_dropout_target": hyper.uniform(0.0, 0.5),
      "model.rnn_decoder_hidden_dropout": hyper.uniform(0.0, 0.5),
      "train.lr_scheduler_type": hyper.choice(["plateau_reduce", "fixed_rate_inv_t",
                                               "fixed_rate_inv_sqrt_t"]),
      "train.plateau_reduce_lr_factor": hyper.uniform(0.1, 0.5),
      "train.plateau_reduce_lr_threshold": hyper.integer(1, 5),
      "train.fixed_rate_lr_half_life": hyper.integer(10, 30),
  }, sampler="tpe", num_trials=20, pruner="median", objective=("validation:bleu", "maximize"))
