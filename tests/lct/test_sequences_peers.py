import numpy as np
import pytest

from course_lib.data import DataUnavailable
from course_lib.lct import peers
from course_lib.lct.sequences import Sequence, load_otb, read_boxes, synthetic_occlusion_sequence


def test_read_boxes_converts_to_zero_based(tmp_path):
    p = tmp_path / "gt.txt"
    p.write_text("111,98,25,101\n112\t100\t23\t99\n\n")
    np.testing.assert_array_equal(read_boxes(p), [[110, 97, 25, 101], [111, 99, 23, 99]])
    (tmp_path / "bad.txt").write_text("1,2,3\n")
    with pytest.raises(ValueError):
        read_boxes(tmp_path / "bad.txt")


def test_synthetic_sequence_hides_the_target_and_jumps_far():
    seq = synthetic_occlusion_sequence()
    again = synthetic_occlusion_sequence()
    np.testing.assert_array_equal(seq.frames, again.frames)
    assert seq.frames.shape == (120, 120, 160) and seq.frames.dtype == np.uint8
    start, stop = seq.occlusion
    assert stop - start == 10
    window = 2.8 * 16
    centres = seq.boxes[:, :2] + 8
    visible = [t for t in range(len(seq)) if seq.boxes[t, 0] + 16 <= 36 or seq.boxes[t, 0] >= 116]
    last = max(t for t in visible if t < start)
    first = min(t for t in visible if t >= stop)
    assert np.linalg.norm(centres[first] - centres[last]) > 1.5 * window
    t = start + 5  # the hidden target's pixels show the wall, identical across two noise-free looks
    x, y = seq.boxes[t, :2].astype(int)
    assert not np.array_equal(seq.frames[t, y:y + 16, x:x + 16], seq.frames[0, 27:43, 12:28])
    assert synthetic_occlusion_sequence(seed=1).frames[0].tobytes() != seq.frames[0].tobytes()


def test_sequence_clip_and_validation():
    seq = synthetic_occlusion_sequence()
    c = seq.clip(50, 100)
    assert len(c) == 50 and c.occlusion == (seq.occlusion[0] - 50, seq.occlusion[1] - 50)
    assert seq.clip(0, 40).occlusion is None
    with pytest.raises(ValueError):
        seq.clip(10, 5)
    with pytest.raises(ValueError):
        Sequence("x", np.zeros((3, 4, 4), np.uint8), np.zeros((2, 4)))


def test_load_otb_matches_the_brief():
    try:
        jog = load_otb("Jogging.1", max_frames=5)
        car = load_otb("Car4", max_frames=3)
    except DataUnavailable:
        pytest.skip("otb_mini not available (set COURSE_DATA_MIRROR)")
    assert jog.frames.shape == (5, 288, 352, 3) and car.frames.shape == (3, 240, 360)
    np.testing.assert_array_equal(jog.init_box, [110, 97, 25, 101])
    np.testing.assert_array_equal(car.init_box, [69, 50, 107, 87])
    assert jog.occlusion is None and load_otb("Jogging.2", 60).occlusion == (49, 56)
    with pytest.raises(ValueError):
        load_otb("Basketball")


def test_opencv_peers_available():
    avail = peers.available_opencv_trackers()
    assert set(peers.DEFAULT_PEERS) <= set(avail), avail
    with pytest.raises(ValueError):
        peers.make_opencv_tracker("CV-GOTURN")


class _FlakyTracker:
    """Reports success on even frames (moving box) and failure on odd ones."""

    def __init__(self):
        self.t = 0

    def init(self, frame, rect):
        assert frame.ndim == 3 and frame.shape[2] == 3
        self.rect = rect

    def update(self, frame):
        self.t += 1
        return self.t % 2 == 0, (self.rect[0] + self.t, self.rect[1], self.rect[2], self.rect[3])


def test_failure_protocol_keeps_the_last_box(monkeypatch):
    monkeypatch.setattr(peers, "make_opencv_tracker", lambda name: _FlakyTracker())
    frames = np.zeros((5, 20, 30), np.uint8)
    res = peers.run_opencv("CV-KCF", frames, (2, 3, 4, 5))
    np.testing.assert_array_equal(res.boxes[:, 0], [2, 2, 4, 4, 6])
    np.testing.assert_array_equal(res.redetect_tried, [False, True, False, True, False])


def test_real_opencv_peer_runs_on_a_short_clip():
    seq = synthetic_occlusion_sequence().clip(0, 15)
    res = peers.run_opencv("CV-MOSSE", seq.frames, seq.init_box)
    assert res.boxes.shape == (15, 4) and np.isfinite(res.boxes).all()
    np.testing.assert_array_equal(res.boxes[0], seq.init_box)
