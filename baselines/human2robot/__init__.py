"""Human2Robot (arXiv 2502.16587), scaled down: a demonstration-conditioned video prediction model whose
one-step features drive an action decoder; test-time demonstrations come from first-frame retrieval.

Modules: config (sizes per profile), diffusion (DDPM schedule), vpm (the video UNet), objectives (VPM loss),
data (robot/human clip pairing), retrieval (k=1 first-frame index), decoder (action decoder), cache (the frozen
VPM's features computed once for decoder training), policy (evaluator policy), method (Method classes, ablations).
"""
