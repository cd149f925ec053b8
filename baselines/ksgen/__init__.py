"""KS-Gen (arXiv 2502.08234) at small scale: a key-step image generator for LIBERO tasks, judged against the
ground-truth key steps that predicate replay finds (`hilam.keysteps`)."""
