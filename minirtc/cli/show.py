"""`minirtc show RUN_DIR`: the pictures of what a trained (or training) model learned."""

from __future__ import annotations

import click

from minirtc.viz.traversal import RANGES


@click.command("show")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default=None,
    help="Where the figures go  [default: RUN_DIR/figures]",
)
@click.option(
    "--range",
    "value_range",
    type=click.Choice(RANGES),
    default="prior",
    show_default=True,
    help="Traversal range: the prior's +-2.5 sd, or the data's 2.5%..97.5% quantiles of each latent.",
)
@click.option(
    "--num-frames",
    type=click.IntRange(min=2, max=32),
    default=9,
    show_default=True,
    help="Values per traversal; a GIF plays them there and back (9 values: 16 frames).",
)
@click.option(
    "--references",
    type=click.IntRange(min=1, max=8),
    default=3,
    show_default=True,
    help="Reference items: one row each in the GIFs.",
)
@click.option(
    "--num-points",
    type=click.IntRange(min=20),
    default=2000,
    show_default=True,
    help="Items encoded for the KL bars, the quantiles and the mutual-information matrix.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Which items are drawn.")
@click.option("--quiet", is_flag=True, help="No progress bar; print only the files written.")
def show_command(run_dir, out, value_range, num_frames, references, num_points, seed, quiet):
    """Write the figures of the run in RUN_DIR (either backend, finished or still training).

    \b
    One GIF per latent (swept over --range, the others at the encoding of a few
    reference items), one GIF of all latents ordered by KL (inactive ones last),
    a still traversal grid, reconstructions, the KL of each latent, the
    latent-factor mutual information that MIG is computed from, and the training
    curves of history.jsonl.

    \b
    Examples:
      minirtc show runs/rtc-vae-dsprites-seed0
      minirtc show runs/a --range quantiles --num-frames 15 --out figs/a
    """
    from minirtc.experiments.show import ShowSettings, show_run

    settings = ShowSettings(value_range, num_frames, references, num_points, seed=seed)
    try:
        show_run(run_dir, out, settings, show_progress=not quiet, echo=click.echo)
    except (FileNotFoundError, ValueError) as error:
        raise click.ClickException(str(error)) from None


def register(main: click.Group) -> None:
    main.add_command(show_command)
