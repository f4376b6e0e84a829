"""Reading printed sheets back as a scanner would: render at 300 dpi, decode the QR codes."""

from __future__ import annotations

import pypdfium2
import zxingcpp
from PIL import Image, ImageDraw

from channels.print_post.sheet_codes import CodeZone

SCAN_DPI = 300


def scan_page(pdf: bytes, index: int, dpi: int = SCAN_DPI) -> list[str]:
    """The text of every QR code on page ``index`` (0-based), read off its image."""
    document = pypdfium2.PdfDocument(pdf)
    try:
        image = document[index].render(scale=dpi / 72, grayscale=True).to_pil()
    finally:
        document.close()
    return [
        found.text
        for found in zxingcpp.read_barcodes(image)
        if found.format == zxingcpp.BarcodeFormat.QRCode
    ]


def pixels_outside(pdf: bytes, index: int, zone: CodeZone) -> bytes:
    """Page ``index`` at 72 dpi with the code zone painted white: what the letter drew."""
    document = pypdfium2.PdfDocument(pdf)
    try:
        image: Image.Image = document[index].render(scale=1).to_pil()
    finally:
        document.close()
    left, top, right, bottom = (v / 25.4 * 72 for v in zone.box)
    ImageDraw.Draw(image).rectangle((left - 1, top - 1, right + 1, bottom + 1), fill="white")
    return image.tobytes()
