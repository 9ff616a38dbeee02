"""Compiler: Spec -> torch modules (cells under masks, readouts, MINE), loss terms and task tensors."""

from .experiment import Experiment, compile_experiment, resolve_device
from .masks import block_mask, group_labels, input_mask, recurrent_mask
from .mine import MineEstimator, StatisticsNetwork, dv_bound
from .network import ModularRNN

__all__ = ["Experiment", "MineEstimator", "ModularRNN", "StatisticsNetwork", "block_mask", "compile_experiment",
           "dv_bound", "group_labels", "input_mask", "recurrent_mask", "resolve_device"]
