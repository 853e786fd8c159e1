"""How every app spells a sign-in identity before storing or looking it up."""


def normalize_email(email: str) -> str:
    """Addresses are stored and compared trimmed and lower-cased: `Ann@X.com ` signs in as ann@x.com."""
    return email.strip().lower()


_PHONE_PUNCTUATION = str.maketrans("", "", " -().\u00a0")


def normalize_phone(phone: str) -> str:
    """Numbers are stored as `+` and digits (E.164 as the user wrote it, without spaces, dashes
    or brackets; a leading `00` is the same as `+`). ValueError for anything that is not a number."""
    compact = phone.strip().translate(_PHONE_PUNCTUATION)
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    digits = compact.removeprefix("+")
    if not digits.isdigit() or not 6 <= len(digits) <= 15 or not digits.isascii():
        raise ValueError("a phone number is 6 to 15 digits, optionally after a +")
    return "+" + digits if compact.startswith("+") else digits
