"""Movie <-> TV cross-domain recommendation: the cold-start / warm protocols (``protocol``), their
evaluation (``evaluate``), the EMCDR-style cross-domain model (``emcdr``) and domain-mix control for
unified lists (``mix``).

Kept import-free so ``cinesync.models`` can register ``emcdr`` without an import cycle.
"""
