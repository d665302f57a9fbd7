"""The browser pipeline's pixel functions (static/patient_app/runtime/imaging.js and blazeface.js,
run by Node) against OpenCV, which the server uses: resizes, grey conversion and the detector's
letterbox are bit-identical on random images of awkward sizes, not only on the parity test's photos."""
import json
import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from inference.detection import FaceDetector

ROOT = Path(__file__).resolve().parents[2]
RUNTIME = ROOT / "clients" / "patient_app" / "static" / "patient_app" / "runtime"

SCRIPT = """
import fs from "fs";
const [dir, runtime] = process.argv.slice(2);
const { resizeLinear, resizeArea, greyRegion } = await import(runtime + "/imaging.js");
const { inputShape, letterbox } = await import(runtime + "/blazeface.js");
const cases = JSON.parse(fs.readFileSync(dir + "/cases.json"));
const out = [];
for (const c of cases) {
  const src = new Uint8Array(fs.readFileSync(`${dir}/${c.id}.in`));
  let result;
  if (c.op === "linear") result = resizeLinear(src, c.sw, c.sh, c.dw, c.dh, c.cn);
  else if (c.op === "area") result = resizeArea(src, c.sw, c.sh, c.dw, c.dh, c.cn);
  else if (c.op === "grey") result = greyRegion(src, c.sw, c.x, c.y, c.side);
  else {
    const [h, w] = inputShape({ input_size: 128, side_multiple: 16 }, c.sh, c.sw);
    const lb = letterbox(src, c.sw, c.sh, h, w, c.cn);
    out.push({ id: c.id, shape: [h, w], px: lb.px, py: lb.py, scale: lb.scale });
    result = new Uint8Array(lb.data.buffer);
  }
  fs.writeFileSync(`${dir}/${c.id}.out`, result);
}
fs.writeFileSync(dir + "/meta.json", JSON.stringify(out));
"""


def run_node(tmp_path: Path, cases: list[dict], inputs: dict[str, np.ndarray]) -> dict[str, bytes]:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is missing: `make test` runs `npm ci`, which needs it")
    for case in cases:
        inputs[case["id"]].tofile(tmp_path / f"{case['id']}.in")
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    script = tmp_path / "run.mjs"
    script.write_text(SCRIPT)
    result = subprocess.run([node, str(script), str(tmp_path), RUNTIME.as_uri()], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return {case["id"]: (tmp_path / f"{case['id']}.out").read_bytes() for case in cases}


SIZES = [  # (source w, h) -> (destination w, h): shrinking by odd, whole and near-whole factors, growing
    ((640, 360), (256, 144)), ((1480, 832), (256, 144)), ((205, 205), (48, 48)), ((96, 96), (48, 48)),
    ((144, 144), (48, 48)), ((49, 49), (48, 48)), ((31, 31), (48, 48)), ((5, 3), (48, 17)), ((1, 1), (48, 48)),
    ((853, 480), (257, 143)), ((480, 853), (72, 128)), ((3, 700), (1, 128)),
]


def test_resizes_and_grey_match_opencv_bit_for_bit(tmp_path):
    rng = np.random.default_rng(28)
    cases, inputs, expected = [], {}, {}
    for i, ((sw, sh), (dw, dh)) in enumerate(SIZES):
        for cn in (1, 3):
            image = rng.integers(0, 256, (sh, sw, cn), dtype=np.uint8)
            squeezed = image[:, :, 0] if cn == 1 else image
            key = f"linear-{i}-{cn}"
            cases.append({"id": key, "op": "linear", "sw": sw, "sh": sh, "dw": dw, "dh": dh, "cn": cn})
            inputs[key] = image
            expected[key] = cv2.resize(squeezed, (dw, dh), interpolation=cv2.INTER_LINEAR)
            if dw <= sw and dh <= sh:  # the server uses INTER_AREA only to shrink
                key = f"area-{i}-{cn}"
                cases.append({"id": key, "op": "area", "sw": sw, "sh": sh, "dw": dw, "dh": dh, "cn": cn})
                inputs[key] = image
                expected[key] = cv2.resize(squeezed, (dw, dh), interpolation=cv2.INTER_AREA)
    for i, (w, h, x, y, side) in enumerate([(640, 360, 100, 50, 205), (31, 40, 0, 9, 31), (3, 3, 1, 1, 2)]):
        rgba = rng.integers(0, 256, (h, w, 4), dtype=np.uint8)
        rgba[:, :, 3] = 255
        key = f"grey-{i}"
        cases.append({"id": key, "op": "grey", "sw": w, "x": x, "y": y, "side": side})
        inputs[key] = rgba
        bgr = cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGR)
        expected[key] = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)[y:y + side, x:x + side]
    got = run_node(tmp_path, cases, inputs)
    wrong = [key for key in expected if got[key] != np.ascontiguousarray(expected[key]).tobytes()]
    assert not wrong, wrong
    assert len(cases) > 40


def test_the_detector_input_matches_the_servers_letterbox_bit_for_bit(tmp_path):
    """Frames of every shape family: landscape, portrait, square, tiny, already the input's size,
    and large enough for the two-step (bilinear then 2x area) shrink; from RGB and from the canvas's
    RGBA (what the pipeline passes: its alpha, random here, must change nothing)."""
    rng = np.random.default_rng(7)
    detector = FaceDetector()
    cases, inputs, expected = [], {}, {}
    for i, (w, h) in enumerate([(640, 360), (640, 480), (360, 640), (500, 500), (1480, 832), (100, 60), (16, 16),
                                (200, 130), (129, 257), (128, 80)]):
        bgr = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        alpha = rng.integers(0, 256, (h, w, 1), dtype=np.uint8)
        runner = detector._runner(*detector.input_shape(h, w))
        scale, px, py = detector._letterbox(bgr, runner)
        for cn, pixels in ((3, bgr[:, :, ::-1]), (4, np.concatenate([bgr[:, :, ::-1], alpha], axis=2))):
            key = f"letterbox-{i}-{cn}"
            cases.append({"id": key, "op": "letterbox", "sw": w, "sh": h, "cn": cn})
            inputs[key] = np.ascontiguousarray(pixels)
            expected[key] = (runner.buffer.copy(), (px, py, scale))
    got = run_node(tmp_path, cases, inputs)
    meta = {m["id"]: m for m in json.loads((tmp_path / "meta.json").read_text())}
    for key, (buffer, (px, py, scale)) in expected.items():
        assert meta[key]["shape"] == list(buffer.shape[1:3]), key
        assert (meta[key]["px"], meta[key]["py"]) == (px, py) and meta[key]["scale"] == pytest.approx(scale), key
        assert got[key] == buffer.tobytes(), key
