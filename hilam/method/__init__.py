"""HiLAM, a method of the harness like the baselines (registered as `hilam` and its variants in setup.cfg):

- config.py: its settings (dataclasses), one preset per profile scale, and its variants as override sets;
- latent_actions.py: the IDM/FDM that label action-free video with latent actions;
- hnet.py: H-Net dynamic chunking; skills.py: the skill model (an H-Net over latent actions);
- stages.py: the IDM/FDM and skill model, trained once per corpus and shared by every cell;
- policies.py: pi^h and pi^l (BAKU networks) and their pretraining objective;
- method.py: `HilamMethod`, the harness's Method (pseudo-labels, pretraining, fine-tuning, evaluation).

The harness (hilam.envs, hilam.data, hilam.models, hilam.train, hilam.evaluate, hilam.bench) never imports it.
"""
