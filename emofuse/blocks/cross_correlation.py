"""Cross-correlation audio-video fusion (Mocanu et al. 2023, sec. 3.3, eqs. 7–11)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from emofuse.layers import masked_softmax, record, zero_padding
from emofuse.validation import ensure_mask


class CrossCorrelationFusion(nn.Module):
    """Cross-attention of two equally long sequences through a learned correlation matrix.

    ``Corr = D_AT W D_VTᵀ`` (eq. 7, ``W`` Xavier-initialised). Eq. 8 is read as normalised
    cross-attention: for video step ``j`` the attended audio is ``Ã_j = Σ_i softmax_i(Corr_ij)
    D_AT,i`` (column-wise softmax of ``Corr``), for audio step ``i`` the attended video is
    ``Ṽ_i = Σ_j softmax_j(Corr_ij) D_VT,j``. Then ``A' = tanh(D_AT + Ã)`` (eq. 9),
    ``V' = tanh(D_VT + Ṽ)`` (eq. 10) and the output is ``[V'; A']`` (eq. 11). Padded steps are
    masked out of both softmaxes (and get zero weight rows); they never reach an output, even
    when they hold NaN or inf.

    Args:
        d_model: the width ``m'`` of both inputs (paper: 512).

    Inputs:
        audio: D_AT (B, N, m'); video: D_VT (B, N, m'); audio_mask, video_mask: (B, N) bool,
        True = valid.
    Returns:
        D_Corr-AV (B, N, 2m') with video first.
    Records:
        ``corr``: the correlation scores (B, 1, N_audio, N_video); ``audio_weights``
        (B, 1, N_video, N_audio): for each video step its weights over the audio steps; and
        ``video_weights`` (B, 1, N_audio, N_video) (one head, the attention-map layout).
    """

    def __init__(self, d_model: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(d_model, d_model))
        nn.init.xavier_uniform_(self.weight)

    def forward(
        self,
        audio: Tensor,
        video: Tensor,
        audio_mask: Tensor | None = None,
        video_mask: Tensor | None = None,
    ) -> Tensor:
        # select, never multiply: NaN or inf in padded steps must reach no product
        audio, video = zero_padding(audio, audio_mask), zero_padding(video, video_mask)
        corr = audio @ self.weight @ video.transpose(1, 2)  # (B, Na, Nv), eq. 7
        pair_mask = None
        if audio_mask is not None or video_mask is not None:
            a, v = ensure_mask(audio_mask, audio), ensure_mask(video_mask, video)
            pair_mask = a[:, :, None] & v[:, None, :]
        audio_weights = masked_softmax(corr, pair_mask, dim=1).transpose(1, 2)  # (B, Nv, Na)
        video_weights = masked_softmax(corr, pair_mask, dim=2)  # (B, Na, Nv)
        attended_audio = audio_weights @ audio
        attended_video = video_weights @ video
        fused = torch.cat(
            [torch.tanh(video + attended_video), torch.tanh(audio + attended_audio)], dim=-1
        )
        for name, value in (
            ("corr", corr),
            ("audio_weights", audio_weights),
            ("video_weights", video_weights),
        ):
            record(self, value[:, None], name)
        return fused


__all__ = ["CrossCorrelationFusion"]
