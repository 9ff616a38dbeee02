"""Compiler: Spec -> torch modules (cells under masks, readouts), loss terms and task tensors."""

from .cells import Cell, build_cell
from .experiment import Experiment, compile_experiment, resolve_device
from .losses import LossTerm, TermContext
from .losses.mine import MineEstimator, StatisticsNetwork, dv_bound
from .masks import block_mask, group_labels, input_mask, recurrent_mask
from .network import ModularRNN

__all__ = ["Cell", "Experiment", "LossTerm", "MineEstimator", "ModularRNN", "StatisticsNetwork", "TermContext",
           "block_mask", "build_cell", "compile_experiment", "dv_bound", "group_labels", "input_mask",
           "recurrent_mask", "resolve_device"]
