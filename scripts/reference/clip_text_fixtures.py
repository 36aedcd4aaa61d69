#!/usr/bin/env python3
"""Writes test/fixtures/clip-text/cases.json: edge cases for CLIP's text cleaning with the ids of
OpenAI's own tokenizer (run once, committed; the test needs no Python).

OpenAI's reference is `clip.simple_tokenizer.SimpleTokenizer` (what `clip.tokenize` uses): ftfy's
fix_text, html.unescape twice, strip, whitespace collapse, lowercase, CLIP's regex, byte-level BPE.
Neither ftfy nor CLIP is packaged by Debian: bring their sources (github.com/rspeer/python-ftfy tag
v6.3.1, github.com/openai/CLIP) into temporary folders outside the repository, then

    apt-get install -y python3-regex python3-wcwidth
    PYTHONPATH=/tmp/ftfy-6.3.1 /usr/bin/python3 scripts/reference/clip_text_fixtures.py \\
        /tmp/CLIP/clip/simple_tokenizer.py ../shared/data/clip-tokenizer/bpe_simple_vocab_16e6.txt.gz \\
        test/fixtures/clip-text/cases.json

The tokenizer module is loaded from its file (clip/__init__.py would import torch). Each case has
the input, the cleaned text the tokenizer splits, and the ids between the start and end tokens
(clip.tokenize raises past 77 tokens; the ids here are not truncated).
"""
import html.entities
import importlib.util
import json
import random
import sys

import ftfy


def load_tokenizer(module_path, bpe_path):
    spec = importlib.util.spec_from_file_location('clip_simple_tokenizer', module_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, module.SimpleTokenizer(bpe_path=bpe_path)


WORDS = [
    'café', 'naïve', 'résumé', 'jalapeño', 'Ærøskøbing', 'Ölçü', 'İstanbul', 'Zürich', 'façade', 'crème brûlée',
    'Москва', 'Ελλάδα', '日本語', 'メインページ', '한국어', 'emoji 🐶🚀', '“quoted”', 'it’s', '— dash', '… more',
    '½ cup', '€5', '©2024', 'naïve café', 'Straße', 'Ślęża', 'Łódź', 'Čapek', 'São Paulo', 'Ça va',
    'à la carte', 'Ångström', 'ñandú', 'Œuvre', 'ﬁsh', 'Ďábel', 'Ħal', 'żółw', 'ἀρχή', 'שלום',
]

MOJIBAKE_ENCODINGS = [
    'latin-1', 'windows-1252', 'windows-1251', 'windows-1250', 'windows-1253', 'windows-1254', 'windows-1257',
    'iso-8859-2', 'macroman', 'cp437',
]


def mojibake_cases():
    out = []
    for word in WORDS:
        data = word.encode('utf-8')
        for enc in MOJIBAKE_ENCODINGS:
            try:
                bad = data.decode(enc)
            except UnicodeDecodeError:
                continue
            if bad != word:
                out.append(f'a photo of {bad}.')
        try:
            double = data.decode('windows-1252').encode('utf-8').decode('windows-1252')
            out.append(double)
        except UnicodeDecodeError:
            pass
        try:
            nbsp = data.decode('windows-1252').replace('\xa0', ' ')
            out.append(f'the {nbsp} here')
        except UnicodeDecodeError:
            pass
    return out


def entity_cases(rng):
    names = sorted(html.entities.html5)
    picked = rng.sample(names, 120)
    out = [f'x &{n} y' for n in picked]
    out += [f'&{n.rstrip(";").upper()};' for n in rng.sample([n for n in names if n.endswith(';') and n == n.lower()], 30)]
    out += [
        '&amp;', '&amp;amp;', '&amp;amp;amp;', '&amp;lt;b&amp;gt;', '&lt;b&gt;bold', 'a < b &amp; c', 'a &lt; b\n&amp; c < d\n&amp; e',
        '&alpha;', '&notin;', '&notin', '&ampx', '&AMP', '&eacute', '&eacutex;', '&hellip', '&#39;', '&#x27;', '&#128;', '&#x80;',
        '&#0;', '&#1;', '&#x1F;', '&#x7f;', '&#x81;', '&#xD800;', '&#99999999;', '&#xFDD0;', '&#xFFFE;', '&#x1F436;', '&#9731',
        '&;', '& amp;', '&NTILDE;', '&Ntilde;', '&EACUTE;', '&quot;hi&quot;', '&nbsp;&nbsp;x', '&zwj;', '&shy;x', '&#x200B;y',
    ]
    return out


def char_cases():
    out = []
    for ch in 'ĲĳŉǱǲǳǄǅǆǇǈǉǊǋǌﬀﬁﬂﬃﬄﬅﬆ':
        out.append(f'the {ch}x word')
    for cp in list(range(0xFF01, 0xFF5F, 3)) + list(range(0xFF61, 0xFFEF, 7)) + [0x3000]:
        out.append(f'A{chr(cp)}B')
    out.append('ＦＵＬＬ　ＷＩＤＴＨ ｔｅｘｔ')
    for q in '\u02bc\u2018\u2019\u201a\u201b\u201c\u201d\u201e\u201f':
        out.append(f'child{q}s {q}toy{q}')
    for cp in list(range(0x00, 0x20)) + [0x7F] + list(range(0x80, 0xA0)):
        out.append(f'a{chr(cp)}b c')
    out += [
        '\ufeffbom start', 'mid\ufeffdle', 'x\u206ay', 'x\ufff9y\ufffcz', 'line\r\nbreak', 'line\rbreak', 'a\u2028b\u2029c',
        'next\x85line', '\x1b[36;44mblue\x1b[0m', 'tab\tand\vvertical', '\u00a0nbsp\u00a0', '\u2003em\u2009thin\u200ahair',
        'zero\u200bwidth', 'e\u0301te\u0301', 'Å vs A\u030a', '\ud83d\ude00 ok', 'lone \ud800 high', 'x\u180ey',
    ]
    return out


def random_cases(rng, pool, n):
    out = []
    for _ in range(n):
        k = rng.randint(1, 5)
        out.append(' '.join(rng.choice(pool) for _ in range(k)))
    return out


def main():
    module_path, bpe_path, out_path = sys.argv[1:4]
    module, tok = load_tokenizer(module_path, bpe_path)
    rng = random.Random(15)
    cases = mojibake_cases() + entity_cases(rng) + char_cases()
    cases += random_cases(rng, cases, 60)
    cases.append('a photo of a ' + 'very ' * 80 + 'long prompt')
    seen = set()
    rows = []
    for text in cases:
        if text in seen:
            continue
        seen.add(text)
        clean = module.whitespace_clean(module.basic_clean(text)).lower()
        rows.append({'text': text, 'clean': clean, 'ids': tok.encode(text)})
    with open(out_path, 'w') as f:
        json.dump({'ftfy': ftfy.__version__, 'reference': 'openai/CLIP clip/simple_tokenizer.py', 'cases': rows}, f, ensure_ascii=True, indent=0)
        f.write('\n')
    print(len(rows), 'cases')


if __name__ == '__main__':
    main()
