"""Patient references as people type them: one form per reference, whatever the keyboard sent.

NFKC folds compatibility forms (fullwidth `Ｐ-１`, ligatures, superscripts) into their plain letters;
format characters (Unicode category Cf: zero-width spaces and joiners, bidirectional marks, soft
hyphens) are invisible and removed; runs of whitespace become one space. Comparison is also
case-insensitive (`reference_key`), so `p-alpha`, `P-ALPHA` and `P-AL\u200bPHA` are one reference.
Letters of other scripts that merely look alike (Cyrillic `Р` for Latin `P`) are not folded."""
import unicodedata


def reference_normalize(raw: str) -> str:
    text = unicodedata.normalize("NFKC", raw)
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    return " ".join(text.split())


def reference_key(raw: str) -> str:
    """What two references are compared by: normalised, then case-folded (NFKC again after folding)."""
    return unicodedata.normalize("NFKC", reference_normalize(raw).casefold())
