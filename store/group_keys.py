"""Which config keys describe an experiment, for grouping runs by config.

Left out: seeds, and the keys that never describe an experiment (where a run
writes, what it is called, which device and how many loader workers it used,
how much it prints), listed per tool in ``NEVER_DESCRIBE``. A key is matched
as written, or below a wrapper such as ``args.`` or ``trainer.``; a name in
the lists covers everything under it (``logger`` covers
``trainer.logger.init_args.save_dir``). Paths a run *reads* (``data``,
``model``, ``model_name_or_path``) do describe it and are kept.
"""

from __future__ import annotations

import re

#: A key whose last part looks like one of these is a seed, wherever it sits
#: (``seed``, ``random_seed``, ``trainer.seed``, ``data_seed``, ``seed_everything``).
SEED_PART = re.compile(r"(\w+_)?seeds?(_everything|_value|_\d+)?|seed\d*", re.IGNORECASE)

NEVER_DESCRIBE: dict[str, tuple[str, ...]] = {
    # trackui's own runs: names people give such keys in their own configs
    "trackui": tuple(
        """name run_name exp_name experiment_name experiment project output_dir out_dir
        outdir log_dir logdir save_dir checkpoint_dir ckpt_dir cache_dir work_dir results_dir
        run_dir tensorboard_dir wandb_dir wandb_project wandb_entity wandb_run_name wandb
        device devices gpu gpus gpu_ids cuda num_workers workers resume resume_from verbose
        debug quiet log_interval log_every print_freq save_every save_interval timestamp
        date datetime start_time hostname host user tags notes""".split()
    ),
    # Ultralytics args.yaml
    "ultralytics": tuple(
        """save_dir name project exist_ok device workers plots verbose resume deterministic
        save save_period save_json save_txt save_conf save_crop save_frames show show_labels
        show_conf show_boxes profile val""".split()
    ),
    # Hugging Face TrainingArguments
    "hf": tuple(
        """output_dir overwrite_output_dir logging_dir logging_strategy logging_steps
        logging_first_step logging_nan_inf_filter run_name report_to push_to_hub
        hub_model_id hub_strategy hub_token hub_private_repo hub_always_push save_strategy
        save_steps save_total_limit save_safetensors save_on_each_node save_only_model
        resume_from_checkpoint dataloader_num_workers dataloader_pin_memory
        dataloader_persistent_workers disable_tqdm local_rank log_level log_level_replica
        log_on_each_node ddp_backend ddp_timeout ddp_find_unused_parameters no_cuda use_cpu
        full_determinism ignore_data_skip""".split()
    ),
    # Lightning Trainer arguments (and LightningCLI's config)
    "lightning": tuple(
        """default_root_dir logger callbacks enable_progress_bar enable_model_summary
        enable_checkpointing log_every_n_steps devices accelerator num_nodes strategy
        ckpt_path profiler deterministic""".split()
    ),
}
_NEVER = frozenset(k.lower() for keys in NEVER_DESCRIBE.values() for k in keys)
#: Where-it-writes names left out wherever they sit in a nested config.
OUTPUT_PARTS = frozenset(
    """output_dir out_dir outdir save_dir log_dir logdir logging_dir checkpoint_dir ckpt_dir
    default_root_dir cache_dir work_dir results_dir run_dir tensorboard_dir
    wandb_dir""".split()
)
#: Prefixes tools wrap a config in; a key is also matched without them.
WRAPPERS = ("args", "trainer", "training_args", "hparams", "hyperparameters", "config", "cfg")


def is_seed(key: str) -> bool:
    return SEED_PART.fullmatch(key.rsplit(".", 1)[-1]) is not None


def describes_experiment(key: str) -> bool:
    """False for seeds and the keys of ``NEVER_DESCRIBE`` (module doc)."""
    if is_seed(key):
        return False
    parts = key.lower().split(".")
    if parts[-1] in OUTPUT_PARTS or _covered(parts):
        return False
    while len(parts) > 1 and parts[0] in WRAPPERS:
        parts = parts[1:]
        if _covered(parts):
            return False
    return True


def _covered(parts: list[str]) -> bool:
    return any(".".join(parts[: i + 1]) in _NEVER for i in range(len(parts)))
