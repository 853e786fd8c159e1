"""Reference clients for keel's apps: small, dependency-light programs that show how a real
client is meant to talk to an app's API. The server never imports them."""
