from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from video_clips import corrupt_audio_packet, talking_clip

from emofuse.transforms import Waveform, load_audio
from emofuse.video import decode_clip, write_clip


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return talking_clip(tmp_path_factory.mktemp("clip") / "talk.mp4", seconds=2.0, fps=10)


def test_decodes_every_frame_on_a_constant_grid_and_the_audio(clip: Path) -> None:
    decoded = decode_clip(clip)
    assert decoded.fps == 10.0 and len(decoded.frames) == 20
    assert decoded.frames[0].shape == (128, 128, 3) and decoded.frames[0].dtype == np.uint8
    np.testing.assert_allclose(decoded.frame_times, np.arange(20) / 10)
    assert decoded.audio is not None and decoded.audio.sample_rate == 22050  # espeak-ng's rate
    assert decoded.audio.duration == pytest.approx(2.0, abs=0.05)  # AAC pads its last frame
    assert decoded.duration == pytest.approx(2.0, abs=0.05) and decoded.skipped_packets == {}


def test_frame_fn_sees_each_kept_frame_and_max_fps_thins_them(clip: Path) -> None:
    seen: list[tuple[int, ...]] = []
    decoded = decode_clip(clip, frame_fn=lambda f: seen.append(f.shape) or len(seen), max_fps=4)
    assert decoded.fps == 4 and len(decoded.frames) == 8  # 2 s at 4 frames per second
    assert len(seen) <= 9 and set(seen) == {(128, 128, 3)}
    assert decoded.frames == sorted(decoded.frames)  # the grid keeps time order


def test_a_corrupt_audio_packet_is_skipped_and_replaced_by_silence(
    clip: Path, tmp_path: Path
) -> None:
    bad = corrupt_audio_packet(clip, tmp_path / "bad.mp4", index=5)
    with pytest.raises(ValueError, match="could not decode"):
        load_audio(bad)  # a reader that stops at the first bad packet
    good, damaged = decode_clip(clip), decode_clip(bad)
    assert damaged.skipped_packets == {"audio": 1}
    assert good.audio is not None and damaged.audio is not None
    assert damaged.audio.num_samples == good.audio.num_samples  # audio stays in sync
    assert len(damaged.frames) == len(good.frames)
    # silence where the packet's 1024 samples were (from its pts), the same sound elsewhere
    start = _audio_packet_pts(clip, 5)
    assert damaged.audio.samples[0, start : start + 1024].abs().max() == 0
    assert good.audio.samples[0, start : start + 1024].abs().max() > 0.01
    before, after = slice(0, start), slice(start + 3 * 1024, None)  # AAC frames overlap
    torch.testing.assert_close(damaged.audio.samples[:, before], good.audio.samples[:, before])
    drift = (damaged.audio.samples[:, after] - good.audio.samples[:, after]).abs().mean()
    assert drift < 0.01 * good.audio.samples[:, after].abs().mean()


def _audio_packet_pts(path: Path, index: int) -> int:
    import av

    with av.open(str(path)) as container:
        packets = [p for p in container.demux(container.streams.audio[0]) if p.dts is not None]
    return int(packets[index].pts)


def test_no_audio_stream_and_audio_only_files(tmp_path: Path) -> None:
    frames = np.full((5, 32, 32, 3), 100, np.uint8)
    silent = decode_clip(write_clip(tmp_path / "silent.mp4", frames, 5.0))
    assert silent.audio is None and len(silent.frames) == 5 and silent.duration == 1.0
    tone = Waveform(torch.sin(torch.arange(8000) / 5.0)[None] * 0.3, 8000)
    import av

    with av.open(str(tmp_path / "tone.flac"), "w") as out:
        stream = out.add_stream("flac", rate=8000)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(tone.samples.numpy(), format="fltp", layout="mono")
        frame.sample_rate = 8000
        out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    audio_only = decode_clip(tmp_path / "tone.flac")
    assert audio_only.frames == [] and audio_only.fps == 0.0
    assert audio_only.audio is not None and audio_only.audio.num_samples == 8000
    assert audio_only.duration == 1.0


def test_bad_paths_and_arguments(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="path"):
        decode_clip(tmp_path / "none.mp4")
    (tmp_path / "notes.mp4").write_text("not a video")
    with pytest.raises(ValueError, match="path: FFmpeg cannot open"):
        decode_clip(tmp_path / "notes.mp4")
    frames = np.zeros((2, 16, 16, 3), np.uint8)
    with pytest.raises(ValueError, match="max_fps"):
        decode_clip(write_clip(tmp_path / "a.mp4", frames, 2.0), max_fps=0)


def test_write_clip_refuses_bad_frames(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least one"):
        write_clip(tmp_path / "a.mp4", [], 10)
    with pytest.raises(ValueError, match="even H and W"):
        write_clip(tmp_path / "a.mp4", np.zeros((2, 15, 16, 3), np.uint8), 10)
    with pytest.raises(ValueError, match="uint8"):
        write_clip(tmp_path / "a.mp4", np.zeros((2, 16, 16, 3), np.float32), 10)
    with pytest.raises(ValueError, match="frame 1"):
        write_clip(
            tmp_path / "a.mp4", [np.zeros((16, 16, 3), np.uint8), np.zeros((8, 8, 3), np.uint8)], 10
        )
    with pytest.raises(ValueError, match="fps"):
        write_clip(tmp_path / "a.mp4", np.zeros((2, 16, 16, 3), np.uint8), 0)
