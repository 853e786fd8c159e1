"""How every app spells a sign-in identity before storing or looking it up."""


def normalize_email(email: str) -> str:
    """Addresses are stored and compared trimmed and lower-cased: `Ann@X.com ` signs in as ann@x.com."""
    return email.strip().lower()
