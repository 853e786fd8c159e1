"""The queue app's rules, one module per concern; services flush, the request commits."""
