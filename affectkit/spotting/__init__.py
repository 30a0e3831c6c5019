"""Micro- and macro-expression spotting: ROI optical flow, prior-guided decoding, a learned regressor.

``spot_video(path)`` is the one-call entry point (face pass + spotter, intervals in frames);
the pipeline uses :func:`affectkit.spotting.stage.spot_store` on the face store it already has.
"""

from __future__ import annotations


def spot_video(video, **kwargs):  # noqa: ANN001, ANN201 - lazy wrapper, keeps imports light
    """See :func:`affectkit.spotting.stage.spot_video`."""
    from .stage import spot_video as _spot_video

    return _spot_video(video, **kwargs)


__all__ = ["spot_video"]
