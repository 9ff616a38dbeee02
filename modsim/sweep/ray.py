"""The Ray executor: each run a Ray task on a local Ray started here, or on an existing cluster."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .executor import CommandOptions, Progress, RunOutcome, collect_pack, execute_planned_pack, pack_members
from .expand import PlannedRun
from .packs import plan_packs


@dataclass(frozen=True)
class RayOptions:
    """The Ray executor's options."""

    address: str | None = None
    """Address of an existing Ray cluster (`--ray-address`); None starts a Ray here."""
    cpus: int | None = None
    """CPUs of the Ray started here (`--ray-cpus`); None: all of this machine's."""
    pack: int | str = 1
    """Members per pack, one pack per task (`--pack`)."""


class RayExecutor:
    """One pack per task (`--pack`; one run by default), with the CPUs of its spec's thread count (a GPU when the
    spec asks for cuda); workers write their own run groups. Runs on the
    cluster at `--ray-address`, else on a Ray started here with `--ray-cpus` CPUs. On SIGINT/SIGTERM every
    pending task is cancelled and a Ray started here is shut down with its workers."""

    def __init__(self, options: RayOptions = RayOptions()):
        self.options = options
        """Its options."""

    @classmethod
    def from_command(cls, given: CommandOptions) -> "RayExecutor":
        """The executor with `modsim sweep --ray-address` and `--ray-cpus`."""
        return cls(RayOptions(address=given.ray_address, cpus=given.ray_cpus, pack=given.pack))

    def run(self, sweep: Path, runs: list[PlannedRun], progress: Progress | None = None) -> list[RunOutcome]:
        """Execute `runs` as Ray tasks."""
        try:
            import ray
        except ImportError as exc:  # pragma: no cover - depends on the extra
            raise RuntimeError("the ray executor needs the `ray` extra: pip install 'modsim[ray]'") from exc
        import signal

        from .local import _interrupt

        previous = signal.signal(signal.SIGTERM, _interrupt)
        started_here = not ray.is_initialized()
        if started_here:
            address = self.options.address
            ray.init(address=address, num_cpus=self.options.cpus if address is None else None,
                     include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
        try:
            tasks = {}
            slots = int(ray.cluster_resources().get("CPU", 1)) // max(1, max(r.spec.training.threads for r in runs))
            for pack in plan_packs(runs, self.options.pack, max(1, slots)):  # `auto`: spread over the cluster
                spec = pack.runs[0].spec
                gpus = 1 if spec.training.device.startswith("cuda") else 0
                cpus = min(spec.training.threads, self.options.cpus or spec.training.threads)
                remote = ray.remote(num_cpus=cpus, num_gpus=gpus)(execute_planned_pack)
                tasks[remote.remote(pack_members(sweep, pack, absolute=True))] = pack
            results: list[RunOutcome] = []
            pending = list(tasks)
            try:
                while pending:
                    ready, pending = ray.wait(pending, num_returns=1)
                    collect_pack(results, sweep, tasks[ready[0]], lambda ref=ready[0]: ray.get(ref), len(runs), progress)
            except KeyboardInterrupt:  # stop every task still queued or running
                for ref in pending:
                    ray.cancel(ref, force=True)
                raise
            return results
        finally:
            signal.signal(signal.SIGTERM, previous)
            if started_here:
                ray.shutdown()
