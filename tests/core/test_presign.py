from keel.core.storage import sigv4_signing_key


def test_the_sigv4_signing_key_matches_awss_documented_example() -> None:
    # From AWS's "Examples of how to derive a signing key for Signature Version 4".
    key = sigv4_signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam")
    assert key.hex() == "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
