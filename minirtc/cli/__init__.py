"""The `minirtc` command line: a thin click layer over the library.

Each command group lives in its own module and holds no logic of its own.  The
group turns the library's user-facing errors (a bad setting, a run directory that
cannot be used, a read-only or full disk, a missing optional library, a stop by
a signal) into one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import errno
import signal
import sys
import threading

import click

INTERRUPTED_EXIT = 130  # the shell's code for a stop by SIGINT


def _os_advice(error: OSError) -> str:
    """One line for an operating-system error: what failed, and what to do."""
    where = f" {error.filename}" if error.filename else ""
    advice = {
        errno.ENOSPC: "free some disk space, then rerun (a run continues with --resume)",
        errno.EDQUOT: "free some of your disk quota, then rerun (a run continues with --resume)",
        errno.EROFS: "the file system is read-only; choose a writable place (--out, or copy the run)",
        errno.EACCES: "no permission; choose a directory you can write to",
        errno.EPERM: "no permission; choose a directory you can write to",
        errno.ENOTDIR: "a path component is a file, not a directory; choose another path",
        errno.ENOENT: "check the path",
    }.get(error.errno, "check the path and the disk")
    return f"cannot use{where}: {error.strerror or error}; {advice}"


def _user_error(error: Exception) -> str | None:
    """The one-line message of an error that is the user's to fix, or None for a bug."""
    from minirtc.training.checkpoint import CheckpointError
    from minirtc.training.config import ConfigError
    from minirtc.training.lock import RunLocked
    from minirtc.training.loop import TrainingFailed
    from minirtc.training.records import HistoryError
    from minirtc.training.rundir import RunDirectoryError

    if isinstance(error, OSError):
        return _os_advice(error)
    if isinstance(error, MemoryError):
        return "not enough memory for these settings; choose smaller --latent-dim, --hidden or --batch-size"
    if isinstance(error, ImportError) and "pip install" in str(error):  # an optional library missing
        return " ".join(str(error).split())
    known = (CheckpointError, ConfigError, RunLocked, TrainingFailed, HistoryError, RunDirectoryError)
    if isinstance(error, known):
        return " ".join(str(error).split())
    return None


class MinirtcGroup(click.Group):
    """A click group that ends every user-facing failure in one line."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        """click's main, with a usage error in one line (click prints usage and a hint on four)."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            result = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except getattr(click.exceptions, "NoArgsIsHelpError", ()) as error:  # bare `minirtc`
            click.echo(error.ctx.get_help(), err=True)
            sys.exit(error.exit_code)
        except click.UsageError as error:
            where = f" (see '{error.ctx.command_path} --help')" if error.ctx is not None else ""
            click.echo(f"Error: {error.format_message()}{where}", err=True)
            sys.exit(error.exit_code)
        except click.ClickException as error:
            error.show()
            sys.exit(error.exit_code)
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        sys.exit(result if isinstance(result, int) else 0)

    def invoke(self, ctx: click.Context):
        in_main = threading.current_thread() is threading.main_thread()  # where handlers can be set
        previous = signal.signal(signal.SIGTERM, _terminate_as_interrupt) if in_main else None
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as error:  # signals.Interrupted carries how to resume
            message = str(error) or "interrupted; rerun the same command to resume (train: add --resume)"
            if ctx.invoked_subcommand == "sweep":
                message += "; rerunning the same `minirtc sweep` command resumes the whole sweep"
            click.echo(f"Error: {message}", err=True)
            sys.exit(INTERRUPTED_EXIT)
        except click.ClickException:
            raise
        except Exception as error:
            message = _user_error(error)
            if message is None:
                raise
            raise click.ClickException(message) from None
        finally:
            if in_main:
                signal.signal(signal.SIGTERM, previous)


def _terminate_as_interrupt(signum, frame) -> None:
    """SIGTERM outside a training loop: stop like Ctrl-C (a sweep then stops its workers)."""
    raise KeyboardInterrupt


@click.group(cls=MinirtcGroup, context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(package_name="minirtc")
def main() -> None:
    """minirtc: RTC-VAE and total-correlation VAEs, from classroom to cluster."""


def _register() -> None:
    """Attach the command modules that exist (each defines `register(main)`)."""
    import importlib

    for module in ("train", "evaluate", "data", "experiment", "sweep", "show", "convert"):
        try:
            mod = importlib.import_module(f"minirtc.cli.{module}")
        except ModuleNotFoundError as error:
            if error.name != f"minirtc.cli.{module}":
                raise
            continue
        mod.register(main)


_register()
