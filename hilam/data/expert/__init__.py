"""Scripted expert that solves LIBERO tasks from their BDDL goal predicates with privileged state."""
from hilam.data.expert.expert import ExpertConfig, ScriptedExpert

__all__ = ["ExpertConfig", "ScriptedExpert"]
