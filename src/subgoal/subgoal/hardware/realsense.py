"""Intel RealSense colour stream through ``pyrealsense2``: a live camera or a recording played back.

Why this module: the camera node must (1) fail fast and clearly when no camera is attached — the
library itself only gives up after its 15 s frame timeout — and (2) run without hardware, from a
recording, so the node is testable here. :class:`RealSenseSource` does both:

- live: lists devices first (in a worker thread, bounded by ``device_timeout_s``) and raises
  :class:`NoDevice` naming what it saw, before any pipeline is started;
- playback: the recording is loaded as a playback device and its colour sensor streams into a
  small bounded queue (the sensor API, not ``rs.pipeline``: a pipeline on a non-real-time playback
  stopped after the first frame in about half of the runs whenever the reader was slower than the
  file — measured here with librealsense 2.59; a callback that waits for room in the queue paces the
  file reliably). librealsense 2.59 (the pinned wheel) records in rosbag2 SQLite (``.db3``) and
  refuses other extensions for writing; recordings are made by the RealSense Viewer, ``rs-record``,
  or :func:`write_synthetic_recording` (a software device through librealsense's own recorder — how
  the tests make one without a camera).

``pyrealsense2`` is imported lazily (:func:`load_pyrealsense2`): it needs ``libusb-1.0.so.0`` (Debian
package ``libusb-1.0-0``) even for playback, and a missing library must be a clear message.
"""
from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np

from subgoal.hardware.optional import require

INSTALL_HINT = "pip install pyrealsense2==2.59.1.11053 (and the libusb runtime: apt-get install libusb-1.0-0)"
RECORDING_SUFFIXES = (".db3", ".bag")


class NoDevice(RuntimeError):
    """No (matching) RealSense camera is attached."""


def load_pyrealsense2() -> ModuleType:
    """``pyrealsense2``, or :class:`~subgoal.hardware.optional.MissingDependency` saying what to install."""
    return require("pyrealsense2", "the RealSense camera", INSTALL_HINT)


@dataclass
class RealSenseConfig:
    width: int = 640
    height: int = 480
    fps: int = 30
    serial: str = ""  #: pick one camera by serial number ('' = the first one)
    playback_file: str = ""  #: a RealSense recording (.db3) to play instead of a camera
    loop: bool = False  #: replay the recording forever (later passes from memory, at the reader's pace)
    real_time: bool = False  #: playback at the recorded pace, dropping frames not read in time
    #: (False: every frame, paced by the reader — the node reads at ``fps``)
    device_timeout_s: float = 2.0  #: how long listing devices may take before giving up

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0 or self.fps <= 0:
            raise ValueError(f"width/height/fps must be positive, got {self.width}x{self.height} @ {self.fps}")
        if not self.device_timeout_s > 0:
            raise ValueError(f"device_timeout_s must be > 0, got {self.device_timeout_s}")
        if self.playback_file:
            p = Path(self.playback_file)
            if p.suffix not in RECORDING_SUFFIXES:
                raise ValueError(f"playback_file must be a RealSense recording {RECORDING_SUFFIXES}, got {p.name!r}")
            if not p.is_file():
                raise FileNotFoundError(f"playback_file not found: {p}")


@dataclass(frozen=True)
class Intrinsics:
    width: int
    height: int
    fx: float
    fy: float
    ppx: float
    ppy: float
    model: str  #: librealsense distortion model name (e.g. 'brown_conrady', 'none')
    coeffs: tuple[float, ...]


@dataclass(frozen=True)
class ColorFrame:
    rgb: np.ndarray  #: (H, W, 3) uint8, RGB order
    frame_number: int
    device_time_ms: float  #: the frame's own timestamp (domain below)
    system_time: bool  #: True if device_time_ms is host wall-clock time (librealsense global time)
    intrinsics: Intrinsics


def list_devices(rs: ModuleType, timeout_s: float) -> list[dict[str, str]]:
    """``[{name, serial}]`` of attached cameras; :class:`NoDevice` if listing hangs past ``timeout_s``."""
    out: list = []
    err: list = []

    def work() -> None:
        try:
            for dev in rs.context().query_devices():
                out.append({"name": dev.get_info(rs.camera_info.name),
                            "serial": dev.get_info(rs.camera_info.serial_number)})
        except Exception as exc:  # noqa: BLE001 - reported below
            err.append(exc)

    t = threading.Thread(target=work, daemon=True)
    t.start()
    t.join(timeout_s)
    if t.is_alive():
        raise NoDevice(f"listing RealSense devices did not finish within {timeout_s:.1f} s (USB stuck? replug the camera)")
    if err:
        raise NoDevice(f"listing RealSense devices failed: {err[0]}")
    return out


class RealSenseSource:
    """Colour frames from a camera or a recording; ``open()`` raises before anything waits on frames."""

    def __init__(self, config: RealSenseConfig) -> None:
        self.config = config
        self.rs = load_pyrealsense2()
        self.pipeline = None
        self.playback = None
        self.device_name = ""

    def open(self) -> "RealSenseSource":
        rs, c = self.rs, self.config
        if c.playback_file:
            return self._open_playback()
        cfg = rs.config()
        t0 = time.monotonic()
        devices = list_devices(rs, c.device_timeout_s)
        if not devices:
            raise NoDevice(f"no RealSense camera attached (looked for {time.monotonic() - t0:.1f} s). "
                           f"Plug one in (USB 3), check `rs-enumerate-devices`, or set playback_file to a recording")
        if c.serial:
            if c.serial not in {d["serial"] for d in devices}:
                raise NoDevice(f"no RealSense camera with serial {c.serial!r}; attached: {devices}")
            cfg.enable_device(c.serial)
        self.device_name = ", ".join(f"{d['name']} #{d['serial']}" for d in devices)
        cfg.enable_stream(rs.stream.color, c.width, c.height, rs.format.rgb8, c.fps)
        self.pipeline = rs.pipeline()
        try:
            self.pipeline.start(cfg)
        except RuntimeError as exc:
            self.pipeline = None
            raise NoDevice(f"cannot start the RealSense stream: {exc}") from exc
        return self

    # ------------------------------------------------------------------ playback (sensor API)
    _QUEUE = 4  #: frames buffered ahead of the reader
    LOOP_MAX_BYTES = 512 << 20  #: loop keeps the decoded frames in memory

    def _open_playback(self) -> "RealSenseSource":
        rs, c = self.rs, self.config
        try:
            dev = rs.context().load_device(str(c.playback_file))
        except RuntimeError as exc:
            raise NoDevice(f"cannot open recording {c.playback_file}: {exc}") from exc
        self.playback = dev.as_playback()
        self.playback.set_real_time(c.real_time)
        for sensor in dev.query_sensors():
            colour = [p for p in sensor.get_stream_profiles() if p.stream_type() == rs.stream.color]
            if colour:
                self._sensor, self._profile = sensor, colour[0]
                break
        else:
            raise NoDevice(f"recording {c.playback_file} has no colour stream")
        if c.loop and Path(c.playback_file).stat().st_size > self.LOOP_MAX_BYTES:
            raise ValueError(f"loop replays the recording from memory: {c.playback_file} is over "
                             f"{self.LOOP_MAX_BYTES >> 20} MB (play it without loop)")
        self._cache: list[ColorFrame] = []
        self._cache_pos = 0
        self._queue: collections.deque = collections.deque()
        self._cv = threading.Condition()
        self._closing = False
        self._start_sensor()
        self.device_name = f"playback of {Path(c.playback_file).name}"
        return self

    def _start_sensor(self) -> None:
        self._played = False  # status reads "stopped" until playback really starts: not the end yet
        self._sensor.open(self._profile)
        self._sensor.start(self._on_frame)
        self._streaming = True

    def _stop_sensor(self) -> None:
        if getattr(self, "_streaming", False):
            self._streaming = False
            with self._cv:
                self._cv.notify_all()
            self._sensor.stop()
            self._sensor.close()

    def _on_frame(self, frame) -> None:
        """librealsense's thread: convert, then wait for room (this is what paces a non-real-time file)."""
        item = self._convert(frame.as_video_frame())
        with self._cv:
            if not self.config.real_time:
                self._cv.wait_for(lambda: len(self._queue) < self._QUEUE or self._closing, timeout=5.0)
            elif len(self._queue) >= self._QUEUE:
                self._queue.popleft()  # real time: the oldest frame is dropped, as a live camera would
            self._queue.append(item)
            if self.config.loop:
                self._cache.append(item)
            self._played = True
            self._cv.notify_all()

    def _read_playback(self, timeout_ms: int) -> ColorFrame | None:
        deadline = time.monotonic() + max(0, timeout_ms) / 1000.0
        with self._cv:
            while True:
                if self._queue:
                    item = self._queue.popleft()
                    self._cv.notify_all()
                    return item
                if self._played and self.playback.current_status() == self.rs.playback_status.stopped:
                    if not self.config.loop or not self._cache:
                        return None
                    # loop: replay the first pass from memory (restarting the playback sensor crashed
                    # librealsense 2.59 in about 1 of 24 runs here; seek(0) after the end does nothing)
                    item = self._cache[self._cache_pos % len(self._cache)]
                    self._cache_pos += 1
                    return item
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cv.wait(timeout=min(left, 0.05))

    @property
    def finished(self) -> bool:
        """True when a non-looping recording has played to its end and every frame was read."""
        if self.playback is None or self.config.loop:  # (also after close)
            return False
        with self._cv:
            return self._played and not self._queue and \
                self.playback.current_status() == self.rs.playback_status.stopped

    def read(self, timeout_ms: int = 1000) -> ColorFrame | None:
        """The next colour frame, or None if none came within ``timeout_ms`` (0: poll, never blocks).

        After a non-looping recording ends, ``read`` returns None and :attr:`finished` is true.
        """
        if self.playback is not None:
            return self._read_playback(timeout_ms)
        if self.pipeline is None:
            raise RuntimeError("RealSenseSource.read() before open()")
        if timeout_ms <= 0:
            frames = self.pipeline.poll_for_frames()
            if not frames:
                return None
        else:
            ok, frames = self.pipeline.try_wait_for_frames(timeout_ms)
            if not ok:
                return None
        color = frames.get_color_frame()
        if not color:
            return None
        return self._convert(color)

    def _convert(self, color) -> ColorFrame:
        rs = self.rs
        data = np.asanyarray(color.get_data())
        fmt = color.get_profile().format()
        if fmt == rs.format.rgb8:
            rgb = data.copy()
        elif fmt == rs.format.bgr8:
            rgb = data[..., ::-1].copy()
        elif fmt in (rs.format.rgba8, rs.format.bgra8):
            rgb = data[..., :3].copy() if fmt == rs.format.rgba8 else data[..., 2::-1].copy()
        else:
            raise ValueError(f"unsupported RealSense colour format {fmt} (record rgb8/bgr8/rgba8/bgra8)")
        i = color.get_profile().as_video_stream_profile().get_intrinsics()
        intr = Intrinsics(i.width, i.height, i.fx, i.fy, i.ppx, i.ppy, str(i.model).split(".")[-1],
                          tuple(float(x) for x in i.coeffs))
        domain = color.get_frame_timestamp_domain()
        return ColorFrame(rgb, int(color.get_frame_number()), float(color.get_timestamp()),
                          domain == rs.timestamp_domain.global_time, intr)

    def close(self) -> None:
        if self.playback is not None:
            with self._cv:
                self._closing = True
            self._stop_sensor()
            # release the librealsense objects now, in order, not at interpreter teardown
            self._sensor = self._profile = self.playback = None
        if self.pipeline is not None:
            try:
                self.pipeline.stop()
            except RuntimeError:
                pass
            self.pipeline = None


def write_synthetic_recording(path: str | Path, frames: list[np.ndarray], fps: int = 30,
                              fx: float | None = None) -> Intrinsics:
    """Record ``frames`` (H, W, 3 uint8 RGB) with librealsense's own recorder from a software device.

    The file is exactly what ``rs-record``/the Viewer write (same library, same layout), so
    playback exercises the real reader. Returns the intrinsics written with the stream.
    """
    rs = load_pyrealsense2()
    path = Path(path)
    if path.suffix != ".db3":
        raise ValueError(f"librealsense records to .db3 files, got {path.name!r}")
    if not frames:
        raise ValueError("need at least one frame")
    h, w = frames[0].shape[:2]
    intr = rs.intrinsics()
    intr.width, intr.height = w, h
    intr.fx = intr.fy = float(fx if fx is not None else 0.5 * h / np.tan(np.deg2rad(45.0) / 2))
    intr.ppx, intr.ppy = (w - 1) / 2, (h - 1) / 2
    intr.model, intr.coeffs = rs.distortion.none, [0.0] * 5
    dev = rs.software_device()
    sensor = dev.add_sensor("Color")
    vs = rs.video_stream()
    vs.type, vs.index, vs.uid, vs.width, vs.height, vs.fps, vs.bpp = rs.stream.color, 0, 0, w, h, fps, 3
    vs.fmt, vs.intrinsics = rs.format.rgb8, intr
    profile = sensor.add_video_stream(vs).as_video_stream_profile()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    recorder = rs.recorder(str(path), dev)
    rec_sensor = recorder.query_sensors()[0]
    queue = rs.frame_queue(len(frames) + 1)
    rec_sensor.open(rec_sensor.get_stream_profiles()[0])
    rec_sensor.start(queue)
    for n, img in enumerate(frames):
        if img.shape != (h, w, 3) or img.dtype != np.uint8:
            raise ValueError(f"frame {n}: expected ({h}, {w}, 3) uint8, got {img.shape} {img.dtype}")
        f = rs.software_video_frame()
        f.pixels, f.bpp, f.stride = np.ascontiguousarray(img), 3, w * 3
        f.timestamp, f.domain, f.frame_number = n * 1000.0 / fps, rs.timestamp_domain.hardware_clock, n
        f.profile = profile
        sensor.on_video_frame(f)
    for _ in range(len(frames)):  # the recorder writes each frame as it passes through the queue
        queue.wait_for_frame(2000)
    rec_sensor.stop()
    rec_sensor.close()
    del recorder  # flushes and closes the file
    return Intrinsics(w, h, intr.fx, intr.fy, intr.ppx, intr.ppy, "none", (0.0,) * 5)


def _summary(path: str, limit_s: float) -> dict:
    """Every frame of a recording: count, per-frame sha256 of the RGB bytes, intrinsics."""
    import hashlib

    src = RealSenseSource(RealSenseConfig(playback_file=path)).open()
    frames, t0 = [], time.monotonic()
    try:
        while time.monotonic() - t0 < limit_s and (f := src.read(1000)) is not None:
            frames.append(f)
        finished = src.finished
    finally:
        src.close()
    intr = frames[0].intrinsics.__dict__ if frames else None
    return {"frames": len(frames), "finished": finished, "frame_numbers": [f.frame_number for f in frames],
            "sha256": [hashlib.sha256(f.rgb.tobytes()).hexdigest() for f in frames],
            "shape": list(frames[0].rgb.shape) if frames else None, "intrinsics": intr}


def main(argv: list[str] | None = None) -> int:
    """``python -m subgoal.hardware.realsense``: list cameras, check a recording, write a synthetic one.

    Prints JSON. Runs librealsense in its own process — which is also why the tests use it: the
    pyrealsense2 extension embeds its own Fast DDS (~10k exported eprosima symbols), and a process
    that loads it before rclpy's Fast DDS lost DDS messages in tests here.
    """
    import argparse
    import json

    ap = argparse.ArgumentParser(prog="python -m subgoal.hardware.realsense", description=main.__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--list", action="store_true", help="attached cameras (exit 3 if none)")
    g.add_argument("--play", metavar="FILE", help="read every colour frame of a recording")
    g.add_argument("--synthetic", metavar="FILE.db3", help="write a recording of random frames (software device)")
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--height", type=int, default=48)
    ap.add_argument("--fps", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=2.0, help="device listing timeout / playback limit (s)")
    a = ap.parse_args(argv)
    if a.list:
        t0 = time.monotonic()
        try:
            devices = list_devices(load_pyrealsense2(), a.timeout)
        except NoDevice as exc:
            print(json.dumps({"error": str(exc)}))
            return 3
        print(json.dumps({"devices": devices, "seconds": round(time.monotonic() - t0, 3)}))
        return 0 if devices else 3
    if a.play:
        print(json.dumps(_summary(a.play, max(a.timeout, 10.0))))
        return 0
    rng = np.random.default_rng(a.seed)
    frames = [rng.integers(0, 256, (a.height, a.width, 3), dtype=np.uint8) for _ in range(a.frames)]
    intr = write_synthetic_recording(a.synthetic, frames, fps=a.fps)
    import hashlib

    print(json.dumps({"file": str(a.synthetic), "frames": len(frames), "intrinsics": intr.__dict__,
                      "sha256": [hashlib.sha256(f.tobytes()).hexdigest() for f in frames]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
