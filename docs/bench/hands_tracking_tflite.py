"""Time of a tracked frame done with the TFLite interpreter (ai-edge-litert, XNNPACK) and
OpenCV, the other side of examples/bench_hand_tracking.rs (docs/hands.md): per frame, the
landmark model's input cut from the previous frame's region with cv2.warpPerspective (as
MediaPipe's ImageToTensorCalculator does), one interpreter call, the landmarks projected back
and the next region computed from them (numpy, MediaPipe's HandLandmarksToRect + 2.0 / -0.1).

    python docs/bench/hands_tracking_tflite.py PHOTO THREADS FRAMES

Starts from MediaPipe's own region for the first frame (mediapipe.solutions.hands) and prints
one JSON line like the Rust side.
"""

import json
import os
import sys
import time

import cv2
import mediapipe as mp
import numpy as np
from ai_edge_litert import interpreter as litert
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL = os.path.join(HERE, "..", "..", "weights", "hands", "hand_landmark_full.tflite")


def norm(a):
    return a - 2 * np.pi * np.floor((a + np.pi) / (2 * np.pi))


def region_from_landmarks(lm, w, h):
    """HandLandmarksToRectCalculator then RectTransformation (scale 2, shift_y -0.1, square_long)."""
    lm = lm[[0, 1, 2, 3, 5, 6, 9, 10, 13, 14, 17, 18]]
    x0, y0 = lm[0, 0] * w, lm[0, 1] * h
    x1 = ((lm[4, 0] + lm[8, 0]) / 2 + lm[6, 0]) / 2 * w
    y1 = ((lm[4, 1] + lm[8, 1]) / 2 + lm[6, 1]) / 2 * h
    rot = norm(np.pi / 2 - np.arctan2(-(y1 - y0), x1 - x0))
    c = (lm[:, :2].max(0) + lm[:, :2].min(0)) / 2
    o = (lm[:, :2] - c) * [w, h]
    r = norm(-rot)
    p = np.stack([o[:, 0] * np.cos(r) - o[:, 1] * np.sin(r), o[:, 0] * np.sin(r) + o[:, 1] * np.cos(r)], 1)
    pc = (p.max(0) + p.min(0)) / 2
    cx = pc[0] * np.cos(rot) - pc[1] * np.sin(rot) + w * c[0]
    cy = pc[0] * np.sin(rot) + pc[1] * np.cos(rot) + h * c[1]
    rw, rh = (p.max(0) - p.min(0)) / [w, h]
    cx, cy = cx / w, cy / h
    cx += -(h * rh * -0.1 * np.sin(rot)) / w
    cy += (h * rh * -0.1 * np.cos(rot)) / h
    side = max(rw * w, rh * h)
    return cx, cy, side / w * 2, side / h * 2, rot


def main():
    photo, threads, frames = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    img = np.asarray(Image.open(photo).convert("RGB"))
    idx = list(range(12)) + list(range(10, 0, -1))
    window = [np.ascontiguousarray(img[2 * i : 2 * i + 440, 3 * i : 3 * i + 600]) for i in idx]
    h, w = 440, 600
    with mp.solutions.hands.Hands(static_image_mode=True, max_num_hands=1) as hands:
        first = hands.process(window[0]).multi_hand_landmarks[0].landmark
    lm = np.array([[p.x, p.y, p.z] for p in first], dtype=np.float32)
    region = region_from_landmarks(lm, w, h)
    interp = litert.Interpreter(model_path=MODEL, num_threads=threads)
    interp.allocate_tensors()
    inp = interp.get_input_details()[0]["index"]
    outs = [d["index"] for d in interp.get_output_details()]
    dst = np.array([[0, 224], [0, 0], [224, 0], [224, 224]], dtype=np.float32)
    times = []
    for f in range(1, max(frames, 2)):
        frame = window[f % len(window)]
        t = time.perf_counter()
        cx, cy, rw, rh, rot = region
        pts = cv2.boxPoints(((cx * w, cy * h), (rw * w, rh * h), rot * 180 / np.pi)).astype(np.float32)
        crop = cv2.warpPerspective(frame, cv2.getPerspectiveTransform(pts, dst), (224, 224), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        interp.set_tensor(inp, (crop.astype(np.float32) / 255.0)[None])
        interp.invoke()
        raw = interp.get_tensor(outs[0]).reshape(21, 3) / 224.0
        assert interp.get_tensor(outs[1])[0, 0] > 0.5, f"frame {f}: hand lost"
        x, y = raw[:, 0] - 0.5, raw[:, 1] - 0.5
        lm = np.stack([(np.cos(rot) * x - np.sin(rot) * y) * rw + cx, (np.sin(rot) * x + np.cos(rot) * y) * rh + cy, raw[:, 2]], 1)
        region = region_from_landmarks(lm, w, h)
        times.append((time.perf_counter() - t) * 1e3)
    times.sort()
    print(json.dumps({"engine": "tflite", "threads": threads, "tracked_frames": len(times), "min_ms": times[0], "median_ms": times[len(times) // 2]}))


if __name__ == "__main__":
    main()
