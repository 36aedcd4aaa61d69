#!/usr/bin/env python3
"""Writes the Pillow reference fixtures of test/clip/pillow-reference.test.ts (run once, committed).

Usage (Debian's Pillow; any Pillow >= 7 resamples the same way):
    apt-get install -y python3-pil
    /usr/bin/python3 scripts/reference/pillow_fixtures.py test/fixtures/pillow

Writes into the output folder:
- resize.json: synthetic images (made by `synthetic()`, which the test reimplements bit for bit)
  resized with `Image.resize((w, h), filter)`; each case has the sha256 of the output bytes and,
  when small, the bytes themselves (base64).
- small encoded images (JPEG, PNG, WebP in several modes) and images.json: for each, the sha256 of
  Pillow's decoded `convert('RGB')` bytes and of the geometric part of Hugging Face's
  CLIPImageProcessor (convert('RGB'); resize shortest edge to 224, other edge
  int(224 * long / short), PIL BICUBIC, no reducing_gap; centre crop 224 with floor offsets), and
  of the same with OpenAI's centre crop (int(round((h - 224) / 2.0)), Python's round half to even).
  Rescale and normalise are plain arithmetic, tested separately.

Nothing from Pillow is copied: this script only calls it.
"""
import base64
import hashlib
import io
import json
import os
import sys

from PIL import Image


def u32(v):
    return v & 0xFFFFFFFF


def synthetic(width, height, channels, seed):
    """Deterministic test pattern: gradient, hashed noise, a 0/255 checker and flat areas with a line."""
    out = bytearray(width * height * channels)
    i = 0
    for y in range(height):
        for x in range(width):
            q = (x * 4) // width
            for c in range(channels):
                if q == 0:
                    v = (x * 255 // max(1, width - 1) + y * 7 + c * 40 + seed) % 256
                elif q == 1:
                    h = u32(x * 374761393 + y * 668265263 + c * 2246822519 + seed * 3266489917)
                    h = u32((h ^ (h >> 13)) * 1274126177)
                    v = (h ^ (h >> 16)) & 255
                elif q == 2:
                    v = ((x // 3 + y // 2 + c + seed) % 2) * 255
                else:
                    v = 255 if y == height // 2 else (128 + c * 30 + seed) % 256
                out[i] = v
                i += 1
    return bytes(out)


FILTERS = {
    'nearest': Image.NEAREST,
    'box': Image.BOX,
    'bilinear': Image.BILINEAR,
    'hamming': Image.HAMMING,
    'bicubic': Image.BICUBIC,
    'lanczos': Image.LANCZOS,
}

# (width, height, channels, seed, out_width, out_height, filter)
RESIZE_CASES = [
    (32, 32, 3, 1, 224, 224, 'bicubic'),  # CIFAR up to CLIP
    (28, 28, 1, 2, 224, 224, 'bicubic'),  # MNIST (grey)
    (7, 5, 3, 3, 13, 11, 'bicubic'),
    (5, 7, 3, 4, 3, 2, 'bicubic'),
    (50, 40, 3, 5, 17, 23, 'bicubic'),
    (40, 30, 3, 6, 89, 23, 'bicubic'),
    (30, 40, 3, 7, 30, 97, 'bicubic'),  # vertical pass only
    (30, 40, 3, 8, 11, 40, 'bicubic'),  # horizontal pass only
    (1, 1, 3, 9, 3, 5, 'bicubic'),
    (3, 1, 3, 10, 224, 74, 'bicubic'),
    (20, 15, 1, 11, 31, 9, 'bicubic'),
    (500, 375, 3, 12, 298, 224, 'bicubic'),  # a 4:3 photo to CLIP's shortest edge
    (1000, 700, 3, 13, 320, 224, 'bicubic'),  # down-scaling by more than 3
    (300, 224, 3, 14, 224, 224, 'bicubic'),
    (17, 13, 3, 15, 29, 7, 'bilinear'),
    (17, 13, 3, 16, 29, 7, 'lanczos'),
    (17, 13, 3, 17, 29, 7, 'box'),
    (17, 13, 3, 18, 29, 7, 'hamming'),
    (17, 13, 3, 19, 29, 7, 'nearest'),
    (40, 30, 3, 20, 13, 71, 'nearest'),
]

MODE = {1: 'L', 3: 'RGB'}


def sha(data):
    return hashlib.sha256(data).hexdigest()


def resize_cases():
    cases = []
    for (w, h, c, seed, ow, oh, flt) in RESIZE_CASES:
        im = Image.frombytes(MODE[c], (w, h), synthetic(w, h, c, seed))
        out = im.resize((ow, oh), FILTERS[flt]).tobytes()
        case = {
            'width': w, 'height': h, 'channels': c, 'seed': seed,
            'outWidth': ow, 'outHeight': oh, 'filter': flt, 'sha256': sha(out),
        }
        if len(out) <= 4096:
            case['pixels'] = base64.b64encode(out).decode('ascii')
        cases.append(case)
    return cases


def hf_geometry(im, openai_crop=False, size=224, crop=224):
    im = im.convert('RGB')
    w, h = im.size
    short, long = (w, h) if w <= h else (h, w)
    new_long = int(size * long / short)
    nw, nh = (size, new_long) if w <= h else (new_long, size)
    im = im.resize((nw, nh), Image.BICUBIC)
    if openai_crop:
        top = int(round((nh - crop) / 2.0))
        left = int(round((nw - crop) / 2.0))
    else:
        top = (nh - crop) // 2
        left = (nw - crop) // 2
    return im.crop((left, top, left + crop, top + crop)).tobytes()


def photo(width, height, seed):
    """A smooth RGB picture (compresses well) with a few hard edges."""
    data = bytearray(width * height * 3)
    i = 0
    for y in range(height):
        for x in range(width):
            inside = (x - width * 0.6) ** 2 + (y - height * 0.4) ** 2 < (height * 0.25) ** 2
            data[i] = 230 if inside else (x * 255 // width + seed) % 256
            data[i + 1] = 40 if inside else (y * 255 // height) % 256
            data[i + 2] = (x + y + seed * 11) % 256 if x < width // 5 else 90
            i += 3
    return Image.frombytes('RGB', (width, height), bytes(data))


def encoded_images():
    """(file name, PIL image, save kwargs)."""
    base = photo(61, 47, 1)
    wide = photo(90, 23, 2)
    tall = photo(23, 75, 3)
    rgba = base.copy()
    rgba.putalpha(Image.frombytes('L', base.size, synthetic(61, 47, 1, 4)))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    yield 'rgb.jpg', base, {'quality': 90}
    yield 'rgb-420.jpg', wide, {'quality': 75, 'subsampling': 2}
    yield 'grey.jpg', base.convert('L'), {'quality': 85}
    yield 'rgb.png', tall, {}
    yield 'grey.png', base.convert('L'), {}
    yield 'palette.png', base.convert('P', palette=Image.ADAPTIVE, colors=37), {}
    yield 'rgba.png', rgba, {}
    yield 'grey-alpha.png', rgba.convert('LA'), {}
    yield 'lossy.webp', base, {'quality': 80}
    yield 'lossless.webp', wide, {'lossless': True}
    yield 'rotated.jpg', base, {'quality': 90, 'exif': exif}
    yield 'cmyk.jpg', base.convert('CMYK'), {'quality': 95}
    yield 'photo.jpg', photo(500, 375, 5), {'quality': 80}
    grey16 = bytearray()
    for y in range(9):
        for x in range(13):
            grey16 += ((x * 5000 + y * 77) % 65536).to_bytes(2, 'little')
    yield 'grey16.png', Image.frombytes('I;16', (13, 9), bytes(grey16)), {}


def image_cases(folder):
    cases = []
    for name, im, kwargs in encoded_images():
        path = os.path.join(folder, name)
        im.save(path, **kwargs)
        with Image.open(path) as opened:
            opened.load()
            case = {'file': name, 'mode': opened.mode, 'width': opened.size[0], 'height': opened.size[1]}
            try:
                rgb = opened.convert('RGB')
            except Exception as e:  # e.g. a mode Pillow cannot convert
                case['error'] = str(e)
            else:
                case['rgb'] = sha(rgb.tobytes())
                if rgb.size[0] * rgb.size[1] <= 1024:
                    case['rgbPixels'] = base64.b64encode(rgb.tobytes()).decode('ascii')
                case['hf'] = sha(hf_geometry(opened))
                case['openai'] = sha(hf_geometry(opened, openai_crop=True))
            cases.append(case)
    return cases


def main():
    folder = sys.argv[1] if len(sys.argv) > 1 else 'test/fixtures/pillow'
    os.makedirs(folder, exist_ok=True)
    import PIL
    with open(os.path.join(folder, 'resize.json'), 'w') as f:
        json.dump({'pillow': PIL.__version__, 'cases': resize_cases()}, f, indent=1)
        f.write('\n')
    with open(os.path.join(folder, 'images.json'), 'w') as f:
        json.dump({'pillow': PIL.__version__, 'cases': image_cases(folder)}, f, indent=1)
        f.write('\n')


if __name__ == '__main__':
    main()
