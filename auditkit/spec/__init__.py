"""The suite's building blocks (models, datasets, bootstrap, decisions, the task base spec) and the gate grammar:
what a suite *says*, validated, before anything is read or run. Assembled into a whole suite by
:mod:`auditkit.running.suite`, which knows the registered task kinds."""
