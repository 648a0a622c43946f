"""Turning word ids (and optionally their characters) into vectors, with word dropout."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from framework import VectorSet
from plugins.modalities.text.vocabulary import PAD, UNK


class CharEncoder(nn.Module):
    """A word's vector from its characters: embeddings, a 1-D convolution and a max over the characters.

    Unknown words keep their spelling, so this gives them (suffixes, capitals, digits) a useful vector.
    """

    def __init__(self, num_chars: int, char_dim: int, channels: int, kernel_size: int = 3) -> None:
        super().__init__()
        self.embed = nn.Embedding(num_chars, char_dim, padding_idx=PAD)
        self.conv = nn.Conv1d(char_dim, channels, kernel_size, padding=kernel_size // 2)

    def forward(self, chars: Tensor) -> Tensor:
        """``[M, C]`` character ids (0 = padding) → ``[M, channels]``."""
        h = torch.relu(self.conv(self.embed(chars).transpose(1, 2)))  # [M, channels, C]
        return h.masked_fill((chars == PAD).unsqueeze(1), float("-inf")).amax(dim=2).clamp_min(0.0)


class TokenEmbedding(nn.Module):
    """Embeds a text batch whose ``x`` is ``[B, N, 1 + C]``: the word id, then its character ids.

    The word vector and (when ``char_channels > 0``) the character encoding are concatenated
    and projected to ``dim``. During training each known word is replaced by the unknown id
    with probability ``word_dropout``, so the model learns what to do with unseen words.

    Args:
        num_words: size of the word vocabulary (with padding and unknown).
        num_chars: size of the character vocabulary.
        dim: output width.
        word_dim: width of the word embedding.
        char_dim: width of the character embedding.
        char_channels: width of the character encoding; 0 disables it.
        word_dropout: probability of replacing a known word by the unknown id while training.
    """

    def __init__(
        self,
        num_words: int,
        num_chars: int,
        dim: int,
        word_dim: int,
        char_dim: int,
        char_channels: int,
        word_dropout: float,
    ) -> None:
        super().__init__()
        self.word_dropout = word_dropout
        self.words = nn.Embedding(num_words, word_dim, padding_idx=PAD)
        self.chars = CharEncoder(num_chars, char_dim, char_channels) if char_channels > 0 else None
        self.proj = nn.Linear(word_dim + char_channels, dim)

    def forward(self, batch: VectorSet) -> Tensor:
        ids = batch.x[..., 0]
        if self.training and self.word_dropout > 0:
            dropped = torch.rand(ids.shape, device=ids.device) < self.word_dropout
            ids = ids.masked_fill(dropped & (ids > UNK), UNK)
        parts = [self.words(ids)]
        if self.chars is not None:
            # Only real tokens are encoded; padding gets a zero character vector.
            encoded = self.chars(batch.x[..., 1:][batch.mask])
            parts.append(encoded.new_zeros(*ids.shape, encoded.shape[-1]).index_put((batch.mask,), encoded))
        return self.proj(torch.cat(parts, dim=-1))
