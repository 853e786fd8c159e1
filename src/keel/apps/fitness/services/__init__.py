"""The fitness rules: routes parse and authorise, these decide. They flush, never commit."""
