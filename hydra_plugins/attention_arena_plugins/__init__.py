"""Hydra plugin of Attention Arena: installed arena plugins' config folders on the search path."""
