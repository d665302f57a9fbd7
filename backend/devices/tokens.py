"""Secrets for devices and enrollment codes: generation and the digests stored in their place."""
import hashlib
import hmac
import secrets

from django.conf import settings

# No 0/O, 1/I/L, U: unambiguous when read aloud or typed on a phone keyboard.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"
CODE_LENGTH = 10  # 30**10 ~ 2**49 possibilities; codes are one-time, expire, and enroll is throttled
_CODE_CHAR = "[" + CODE_ALPHABET + CODE_ALPHABET.lower() + "]"
# What enrollment_code_normalize accepts as a code: its characters in either case, spaces and dashes around.
CODE_PATTERN = rf"^[ -]*(?:{_CODE_CHAR}[ -]*){{{CODE_LENGTH}}}$"


def device_token_generate() -> tuple[str, str]:
    """Return (public lookup id, full bearer token `<lookup_id>.<secret>`)."""
    lookup_id = secrets.token_hex(6)
    return lookup_id, f"{lookup_id}.{secrets.token_urlsafe(32)}"


def device_token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def device_token_lookup_id(token: str) -> str | None:
    lookup_id, dot, secret = token.partition(".")
    # A NUL can be in no issued id (hex), and PostgreSQL refuses it in a text parameter (a 500 before).
    if not dot or not secret or len(lookup_id) != 12 or "\x00" in lookup_id:
        return None
    return lookup_id


def digests_match(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def enrollment_code_generate() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return f"{raw[:5]}-{raw[5:]}"


def enrollment_code_normalize(code: str) -> str:
    """Forgive case, spaces and dashes: people type these codes by hand."""
    return "".join(ch for ch in code.upper() if ch.isalnum())


def enrollment_code_digest(code: str) -> str:
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, enrollment_code_normalize(code).encode(), hashlib.sha256).hexdigest()
