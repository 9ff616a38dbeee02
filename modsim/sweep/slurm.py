"""The SLURM executor, through submitit: one pack per array task, its scripts and logs kept in the sweep store
(`<sweep>/jobs`). What it does and its options: `SlurmExecutor`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UserError
from ..store.sweep import jobs_folder
from .executor import CommandOptions, Progress, RunOutcome, collect_pack, execute_planned_pack, pack_members
from .expand import PlannedRun
from .packs import plan_packs

BACKENDS = ("slurm", "local")
"""Where the jobs run: a SLURM cluster, or this machine (submitit's local executor)."""
_NUMBERS = {"minutes": int, "mem_gb": float, "cpus": int, "gpus": int, "parallel": int}


@dataclass(frozen=True)
class SlurmOptions:
    """The SLURM executor's options, from `--executor-option NAME=VALUE` (`SlurmExecutor` lists them)."""

    backend: str = "slurm"
    """`slurm`, or `local` to run the jobs on this machine."""
    partition: str | None = None
    """SLURM partition."""
    minutes: int = 60
    """Time limit of one array task, minutes (submitit requeues a task that reaches it; its runs resume)."""
    mem_gb: float | None = None
    """Memory per task, GB (None: the cluster's default)."""
    cpus: int | None = None
    """CPUs per task (None: the spec's training.threads)."""
    gpus: int | None = None
    """GPUs per task (None: 1 when the spec trains on cuda, else 0)."""
    parallel: int = 256
    """Array tasks running at once."""
    pack: int | str = 1
    """Members per pack, one pack per array task (`--pack`)."""
    extra: dict[str, str] = field(default_factory=dict)
    """`slurm_<name>` options passed to submitit as they are."""
    explicit: frozenset[str] = frozenset()
    """The options the command gave (the others keep their defaults)."""

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise UserError(f"--executor-option backend: expected one of {', '.join(BACKENDS)}, got {self.backend!r}")


def _options(given: CommandOptions) -> SlurmOptions:
    values: dict = {"pack": given.pack, "extra": {}}
    for key, text in given.settings.items():
        if key.startswith("slurm_"):
            values["extra"][key] = text
        elif key in _NUMBERS:
            try:
                values[key] = _NUMBERS[key](text)
            except ValueError:
                raise UserError(f"--executor-option {key}: expected a number, got {text!r}") from None
        elif key in ("backend", "partition"):
            values[key] = text
        else:
            raise UserError(f"--executor-option {key}: the slurm executor knows backend, partition, minutes, mem_gb, "
                            "cpus, gpus, parallel and slurm_<name>")
    return SlurmOptions(**values, explicit=frozenset(given.settings))


def _pack_task():
    """The callable one array task runs: a submitit `Checkpointable`, so a preempted or timed-out task is requeued
    with the same pack, which then resumes its runs from their saved states."""
    import submitit

    class PackTask(submitit.helpers.Checkpointable):
        def __call__(self, members):
            return execute_planned_pack(members)

    return PackTask()


class SlurmExecutor:
    """One pack per SLURM array task (`--pack`; one run by default), submitted through submitit from this machine to
    the cluster, its scripts and logs kept in the sweep store (`<sweep>/jobs`). A task that SLURM preempts or
    times out is requeued by submitit and resumes its runs from their saved states; when SLURM will not requeue a
    task again, `modsim sweep` reports each of its runs by what it stored, and run again resumes those that had
    saved a state and starts the others again. Needs `pip install 'modsim[slurm]'`.

    Options (`--executor-option NAME=VALUE`, repeatable): `backend` (`slurm`, or `local`: the same jobs as
    processes on this machine, through submitit's local executor; how the executor is tested, and a way to try a
    sweep before sending it to a cluster), `partition`, `minutes` (time limit of a task, default 60), `mem_gb`,
    `cpus` (per task; default the spec's `training.threads`), `gpus` (per task; default 1 when the spec trains on
    cuda), `parallel` (array tasks running at once), and any `slurm_<name>` passed to submitit as it is (e.g.
    `slurm_account=lab`, `slurm_qos=high`)."""

    def __init__(self, options: SlurmOptions = SlurmOptions()):
        self.options = options
        """Its options."""

    @classmethod
    def from_command(cls, given: CommandOptions) -> "SlurmExecutor":
        """The executor with `modsim sweep --pack` and its `--executor-option`s."""
        return cls(_options(given))

    def _executor(self, folder: Path, spec):
        try:
            import submitit
        except ImportError:  # depends on the extra
            raise UserError("the slurm executor needs submitit: pip install 'modsim[slurm]'") from None
        opts = self.options
        cpus = opts.cpus or spec.training.threads
        gpus = opts.gpus if opts.gpus is not None else int(spec.training.device.startswith("cuda"))
        if opts.backend == "local":
            executor = submitit.LocalExecutor(folder=str(folder))
            executor.update_parameters(timeout_min=opts.minutes, cpus_per_task=cpus, gpus_per_node=gpus)
            return executor
        executor = submitit.SlurmExecutor(folder=str(folder))
        params = {"time": opts.minutes, "cpus_per_task": cpus, "array_parallelism": opts.parallel,
                  "job_name": "modsim"}
        if gpus:
            params["gpus_per_node"] = gpus
        if opts.partition:
            params["partition"] = opts.partition
        if opts.mem_gb:  # sbatch takes whole units: 16GB, or 1536MB for 1.5 GB
            params["mem"] = f"{int(opts.mem_gb)}GB" if float(opts.mem_gb).is_integer() else \
                f"{int(opts.mem_gb * 1024)}MB"
        params.update({k.removeprefix("slurm_"): v for k, v in opts.extra.items()})
        executor.update_parameters(**params)
        return executor

    def run(self, sweep: Path, runs: list[PlannedRun], progress: Progress | None = None) -> list[RunOutcome]:
        """Submit one task per pack (the packs of one thread count and device through one submitit executor with
        their resources), wait for them all, and return every run's outcome. The local backend runs at most
        `parallel` tasks at once (default: this machine's cores over the threads per run). On SIGINT/SIGTERM the
        tasks are cancelled (their runs stay resumable) and KeyboardInterrupt is raised."""
        import os
        import signal

        from .local import _interrupt

        if not runs:
            return []
        local = self.options.backend == "local"
        spec = runs[0].spec
        width = self.options.parallel if not local or "parallel" in self.options.explicit else \
            max(1, (os.cpu_count() or 1) // max(spec.training.threads, 1))
        packs = plan_packs(runs, self.options.pack, width)
        groups: dict[tuple, list] = {}
        for pack in packs:
            first = pack.runs[0].spec
            groups.setdefault((first.training.threads, first.training.device), []).append(pack)
        task = _pack_task()
        previous = signal.signal(signal.SIGTERM, _interrupt)
        jobs: list = []
        results: list[RunOutcome] = []
        try:
            for members in groups.values():
                executor = self._executor(jobs_folder(sweep), members[0].runs[0].spec)
                batches = [members[k:k + width] for k in range(0, len(members), width)] if local else [members]
                for batch in batches:
                    args = [pack_members(sweep, pack, absolute=True) for pack in batch]
                    submitted = [executor.submit(task, a) for a in args] if local else executor.map_array(task, args)
                    jobs.extend(submitted)
                    if local:  # submitit's local executor has no queue: wait for this window before the next
                        for job, pack in zip(submitted, batch):
                            collect_pack(results, sweep, pack, job.result, len(runs), progress)
                if not local:
                    for job, pack in zip(jobs[-len(members):], members):
                        collect_pack(results, sweep, pack, job.result, len(runs), progress)
            return results
        except KeyboardInterrupt:
            for job in jobs:
                job.cancel(check=False)
            raise
        finally:
            signal.signal(signal.SIGTERM, previous)


__all__ = ["SlurmExecutor", "SlurmOptions"]
