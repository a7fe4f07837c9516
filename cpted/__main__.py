from cpted.cli import app

app()
