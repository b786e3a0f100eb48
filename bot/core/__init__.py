"""Pure rules: globs, selection, filters, alert rules, PR-state transitions, grammar.

No I/O, no clock, no database: everything here is a function of its arguments (a test
enforces it by inspecting imports), so adapters, the pipeline and tests share it.
"""
