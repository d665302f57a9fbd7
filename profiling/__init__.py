"""Plain-Python profiling shared by the server and the model (no Django): CPU time by stage.

`profiling.stages.stage` marks a stage in backend views, services and tasks and in
`inference.estimator`; benchmarks/ingest.py and benchmarks/stage_profile.py read the totals.
`profiling.memory.rss_kib` reads a process's resident memory (the benchmarks and the memory tests).
"""
