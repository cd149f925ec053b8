"""Policy building blocks (encoders, trunk, heads) shared by BAKU, HiLAM's two policies and the baselines."""
