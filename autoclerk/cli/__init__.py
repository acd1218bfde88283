"""The `autoclerk` command line: thin commands over the composition root.

One module per command group, each parsing options and printing results; the work is
done by the functions they call (`autoclerk.bootstrap` and the worker for serving,
`feedback` for offline training, fitting and evaluation).
"""

from __future__ import annotations

import typer

from autoclerk.cli import run as run_cmds
from autoclerk.cli.deadletter import deadletter_app
from autoclerk.cli.eval import eval_
from autoclerk.cli.feedback import feedback_app
from autoclerk.cli.finetune import finetune_app
from autoclerk.cli.models import models_app
from autoclerk.cli.reference import reference_app
from autoclerk.cli.replay import replay_app
from autoclerk.cli.review import review_app
from autoclerk.cli.routing import routing_app
from autoclerk.cli.schemas import schemas_app
from autoclerk.cli.summary import summary
from autoclerk.cli.train import train_app
from autoclerk.cli.users import users_app

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__.split("\n")[0])


@app.callback()
def _main() -> None:
    # scikit-learn's OpenMP pools spin-wait; with concurrent documents (threads) on a
    # small machine they oversubscribe the cores and training ran 40x slower. One
    # thread per pool, parallelism from documents in flight instead.
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="openmp")


app.command()(run_cmds.run)
app.command()(run_cmds.worker)
app.command()(run_cmds.broker)
app.command()(run_cmds.publish)
app.command("eval")(eval_)
app.command()(summary)
app.add_typer(schemas_app, name="schemas")
app.add_typer(train_app, name="train")
app.add_typer(reference_app, name="reference")
app.add_typer(review_app, name="review")
app.add_typer(users_app, name="users")
app.add_typer(routing_app, name="routing")
app.add_typer(feedback_app, name="feedback")
app.add_typer(finetune_app, name="finetune")
app.add_typer(models_app, name="models")
app.add_typer(deadletter_app, name="deadletter")
app.add_typer(replay_app, name="replay")


def main() -> None:
    app()
