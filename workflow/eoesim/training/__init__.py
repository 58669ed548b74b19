"""Training workloads: time-to-train, parallel training across chiplets, checkpoint I/O, energy and carbon.

``spec`` resolves the study's ``training`` section (with its cross-field checks), ``accounting`` counts
parameters, FLOPs and memory, ``gemms`` lowers a training step to GEMM shapes, ``placement`` puts the
ranks of each expert's layout on chiplets, ``collectives`` prices ring collectives and pipeline sends on
the package network, ``step`` prices one optimizer step, ``checkpoint`` the SSD writes, ``run`` the whole
training of the EoE, ``energy`` its energy and carbon, ``colocation`` the load it imposes on a serving job
sharing its chiplets, ``timeline`` a Chrome trace of a few steps, and ``point_job`` writes a design
point's outputs.
"""
