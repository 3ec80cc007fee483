"""gdlab on the course platforms: Gradescope autograders and PrairieLearn questions.

- :mod:`grader.platforms.common`: what both share: finding the one ``.py`` file a student
  submitted, grading it with gdlab's own :class:`~grader.grading.Grader` in the sandbox,
  the graded result as a list of platform tests, the plot as a data URL, the sandbox's
  layers, and the bundle an export ships (a wheel of gdlab, the exercise folder, the
  install script).
- :mod:`grader.platforms.gradescope`: ``gdlab export gradescope`` (an autograder zip) and,
  inside Gradescope's container, ``python -m grader.platforms.gradescope`` (what the zip's
  ``run_autograder`` runs).
- :mod:`grader.platforms.prairielearn`: ``gdlab export prairielearn`` (a question folder
  with its grader image) and, inside the grading container,
  ``python -m grader.platforms.prairielearn`` (the question's entrypoint).
"""
