"""What a fake network checks in every image it receives: no trace of where, when or with what it was taken.

`traces(data)` parses the bytes with Pillow (no EXIF, no XMP, no comment, no colour profile) and looks
for the raw byte sequences of EXIF, XMP and IPTC blocks and of the GPS coordinates `photo()` writes.
`photo()` makes the test images: a camera's JPEG (GPS EXIF, XMP, IPTC, a comment) or PNG (GPS EXIF, XMP, a
text chunk), never downloaded.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

from PIL import Image, ImageDraw, PngImagePlugin

#: The GPS position written into test photos, as whole numbers so their bytes can be looked for.
LATITUDE = 52_123_457  # /1,000,000 degrees (odd, not a multiple of 5: the fraction stays as written)
LONGITUDE = 4_987_653
XMP_MARK = "SHELTER-ADDRESS-7f3a"  # in the XMP packet: a place that must never go out
IPTC_MARK = "IPTC-CITY-0b9e"  # in the IPTC record of a JPEG
XMP = (
    '<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
    '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    f'<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSAreaInformation="{XMP_MARK}"/>'
    '</rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
)
_MARKERS = (
    b"Exif\x00\x00",  # the EXIF block's header (JPEG APP1, WebP)
    b"eXIf",  # PNG's EXIF chunk
    b"http://ns.adobe.com/xap/1.0/",  # JPEG's XMP APP1
    b"XML:com.adobe.xmp",  # PNG's XMP chunk
    b"<x:xmpmeta",
    b"Photoshop 3.0",  # IPTC (JPEG APP13)
    b"8BIM",
    XMP_MARK.encode(),
    IPTC_MARK.encode(),
    *(struct.pack(order + "I", value) for order in "<>" for value in (LATITUDE, LONGITUDE)),
)


INFO_KEYS = ("exif", "xmp", "XML:com.adobe.xmp", "comment", "Comment", "icc_profile")


def gps_exif(orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "Camera maker"  # Make
    exif[0x0110] = "Camera model"  # Model
    exif[0x0112] = orientation
    exif[0x8825] = {  # GPSInfo
        1: "N",
        2: (LATITUDE / 1_000_000, 0.0, 0.0),
        3: "E",
        4: (LONGITUDE / 1_000_000, 0.0, 0.0),
    }
    return exif


def photo(
    path: Path,
    size: tuple[int, int] = (400, 300),
    *,
    noise: bool = False,
    alpha: bool = False,
    orientation: int = 1,
    quality: int = 95,
) -> Path:
    """A test image at `path` (JPEG or PNG by its suffix) with GPS EXIF, XMP, a comment and (JPEG) IPTC.

    Its top-left quarter is red, the rest blue (so orientation can be seen); `noise` makes it hard to
    compress; `alpha` (PNG) makes its right half transparent."""
    if noise:
        bands = [Image.effect_noise(size, 80).point(lambda v, k=k: (v + k) % 256) for k in (0, 85, 170)]
        image = Image.merge("RGB", bands)
    else:
        image = Image.new("RGB", size, (0, 0, 255))
    ImageDraw.Draw(image).rectangle((0, 0, size[0] // 2 - 1, size[1] // 2 - 1), fill=(255, 0, 0))
    exif = gps_exif(orientation).tobytes()
    if path.suffix.lower() == ".png":
        rgba = image.convert("RGBA")
        if alpha:
            ImageDraw.Draw(rgba).rectangle((size[0] // 2, 0, size[0], size[1]), fill=(0, 0, 0, 0))
        info = PngImagePlugin.PngInfo()
        info.add_itxt("XML:com.adobe.xmp", XMP)
        info.add_text("Comment", "taken at " + XMP_MARK)
        (rgba if alpha else image).save(path, "PNG", pnginfo=info, exif=exif)
    else:
        out = io.BytesIO()
        image.save(out, "JPEG", quality=quality, exif=exif, xmp=XMP.encode(), comment=XMP_MARK)
        data = out.getvalue()
        path.write_bytes(data[:2] + _iptc_segment() + data[2:])  # IPTC right after the start of image
    return path


def _iptc_segment() -> bytes:
    """A JPEG APP13 segment with an IPTC record (city, as photo agencies write it), as Photoshop stores it."""
    city = IPTC_MARK.encode()
    record = b"\x1c\x02\x5a" + struct.pack(">H", len(city)) + city  # IPTC 2:90 City
    resource = b"8BIM" + b"\x04\x04" + b"\x00\x00" + struct.pack(">I", len(record)) + record
    body = b"Photoshop 3.0\x00" + resource + (b"\x00" if len(record) % 2 else b"")
    return b"\xff\xed" + struct.pack(">H", len(body) + 2) + body


def traces(data: bytes) -> list[str]:
    """Every trace of the source's metadata in an image as received: empty when there is none."""
    found = [repr(marker) for marker in _MARKERS if marker in data]
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            if image.getexif():
                found.append(f"EXIF tags {sorted(image.getexif())}")
            found += [f"info[{key!r}]" for key in INFO_KEYS if key in image.info]
    except (OSError, ValueError, SyntaxError):
        found.append("not an image Pillow can read: the adapter sent the file, not its rendition")
    return found


def is_image(content_type: str, data: bytes) -> bool:
    return content_type.startswith("image/") or data[:4] in (b"\xff\xd8\xff\xe0", b"\xff\xd8\xff\xdb", b"\x89PNG")
