"""HMA (arXiv 2502.04296) at small scale: an action-conditioned video world model over discrete image tokens
(a VQ tokenizer, then a spatial-temporal transformer trained by masked token prediction), with one action
stem per action space so differently parameterised actions train together."""
