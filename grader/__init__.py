"""gdlab's domain core: the reference engine, and (to come) the sandbox, scoring, plots and
the exercise catalog. Nothing below this package imports Flask."""
