from keel.cli import app

app(prog_name="keel")
