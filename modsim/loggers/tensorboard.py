"""The `tensorboard` logger: TensorBoard scalars in event files under `<run>/logs/tensorboard`, written with
TensorBoard's own event-file writer (no TensorFlow, no torch)."""

from __future__ import annotations

import time

from . import Logger, LoggerContext
from ..spec.loggers import TensorBoardLoggerSpec

TRAIN_PREFIX = "train/"
"""Tag prefix of the per-step training values (`train/total`, `train/task`, ...)."""
METRICS_PREFIX = "metrics/"
"""Tag prefix of the checkpoint metrics (`metrics/q_cor`, ...)."""
FLUSH_SECONDS = 5.0
"""Most seconds an event waits in memory before TensorBoard's writer thread puts it in the file by itself;
besides, the file is brought up to date whenever the run's log reaches the store (`flush`). (The thread polls
without waiting when this is near 0, so it is a constant, never `training.log_every_seconds`.)"""
QUEUE_EVENTS = 100
"""Events queued for the writer's thread before `log` waits for it."""


class TensorBoardLogger(Logger):
    """Writes `train/<term>` at every logged step and `metrics/<name>` at every checkpoint as TensorBoard scalars
    (float32, as TensorBoard stores them) over the model step. A resumed run first writes a restart mark
    (`SessionLog.START` at its first new step), so TensorBoard's readers drop the steps the killed process had
    logged past its saved state and show each step once."""

    def __init__(self, spec: TensorBoardLoggerSpec, context: LoggerContext):
        super().__init__(spec, context)
        from tensorboard.compat.proto.event_pb2 import Event, SessionLog
        from tensorboard.compat.proto.summary_pb2 import Summary
        from tensorboard.summary.writer.event_file_writer import EventFileWriter

        self._event, self._summary, self._session = Event, Summary, SessionLog
        self.writer = EventFileWriter(str(context.directory), max_queue_size=QUEUE_EVENTS,
                                      flush_secs=FLUSH_SECONDS)
        """TensorBoard's writer of this process's event file (a new file per process)."""
        if context.resumed_after is not None:
            self.writer.add_event(Event(wall_time=time.time(), step=context.resumed_after + 1,
                                        session_log=SessionLog(status=SessionLog.START)))

    def _scalars(self, step: int, prefix: str, values: dict[str, float]) -> None:
        summary = self._summary(value=[self._summary.Value(tag=prefix + name, simple_value=float(value))
                                       for name, value in values.items()])
        self.writer.add_event(self._event(wall_time=time.time(), step=int(step), summary=summary))

    def log(self, step: int, values: dict[str, float]) -> None:
        """One event holding every value of the step (`train/<name>`)."""
        self._scalars(step, TRAIN_PREFIX, values)

    def log_metrics(self, step: int, metrics: dict[str, float]) -> None:
        """One event holding the checkpoint's metrics (`metrics/<name>`)."""
        if metrics:
            self._scalars(step, METRICS_PREFIX, metrics)

    def flush(self) -> None:
        """Write every queued event to the event file."""
        self.writer.flush()

    def close(self, status: str, summary: dict[str, float] | None = None) -> None:
        """Flush the queued events and close the event file."""
        self.writer.close()
