"""Tensor code: attention and its scopes, the dense reference, edge attention, derived edges, positions, embeddings."""
