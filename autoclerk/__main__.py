from autoclerk.cli import app

app()
