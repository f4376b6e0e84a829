"""What each golden file of a case holds, made from a letter's PDF; how far images may drift."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image, ImageChops

from tests.support.pdf import facts, page_images, page_texts

# A pixel counts as changed when its grey level moves by more than this much.
PIXEL_THRESHOLD = 40
# The share of changed pixels tolerated per page (rasteriser noise across versions).
PIXEL_TOLERANCE = 0.0005


def outputs_of(case_dir: Path, pdf: bytes) -> dict[Path, bytes | Image.Image]:
    """What each golden file of ``case_dir`` should hold for this PDF."""
    outputs: dict[Path, bytes | Image.Image] = {
        case_dir / "facts.json": (
            json.dumps(facts(pdf), indent=2, ensure_ascii=False) + "\n"
        ).encode(),
    }
    for number, text in enumerate(page_texts(pdf), 1):
        outputs[case_dir / f"page-{number}.txt"] = text.encode()
    for number, image in enumerate(page_images(pdf), 1):
        outputs[case_dir / f"page-{number}.png"] = image
    return outputs


def changed_share(expected: Image.Image, actual: Image.Image) -> float:
    """The share of pixels whose grey level moved by more than PIXEL_THRESHOLD."""
    if expected.size != actual.size:
        return 1.0
    diff = ImageChops.difference(expected, actual).point(
        lambda v: 255 if v > PIXEL_THRESHOLD else 0
    )
    changed = diff.histogram()[255]
    return changed / (actual.size[0] * actual.size[1])
