"""Neural sequential models (PyTorch), trained with ``cinesync.training.train``."""
