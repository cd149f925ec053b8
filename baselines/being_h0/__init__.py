"""Being-H0 (arXiv 2507.15597) scaled to LIBERO: part-level motion tokens of end-effector trajectories from
LIBERO-90 rollouts, next-motion-token pretraining over [image, instruction, <MOT> motion </MOT>], and
post-training with a proprio token and learnable action queries read out by an L1 regression head.

Modules: `config.py` (sizes and presets per profile), `geometry.py` (rotations), `vq.py` (grouped residual
VQ), `tokenizer.py` (part-level motion tokenizer), `corpus.py` (trajectories and pretraining samples),
`model.py` (the transformer, its pretraining and post-training objectives), `shared.py` (tokenizer and
pretraining, trained once per config and reused by every cell), `method.py` (the harness method and its
ablations), `tokenizer_report.py` (tokenizer error on real LIBERO-90 trajectories).
"""
