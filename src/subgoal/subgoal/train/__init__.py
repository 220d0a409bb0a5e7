"""Training entry points: one module per ``subgoal train NAME`` (glue: data, loop, logging, export).

The algorithms themselves stay pure in ``subgoal.algos`` / ``subgoal.models``; a module here exposes
``add_arguments(parser)`` and ``run(args) -> int`` and is listed in ``subgoal.cli.train.TRAINERS``.
"""
