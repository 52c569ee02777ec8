"""What contains a submission: Landlock, namespaces, seccomp, rlimits, the disk cap, control groups, the process tree,
and the doctor that proves them.
"""
