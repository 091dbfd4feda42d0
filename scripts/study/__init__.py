"""The report of the reproduction study (scripts/reproduce_report.py), in parts:
  metrics   sacreBLEU's 13a BLEU statistics per sentence, corpus BLEU from summed statistics
            (numpy, for any number of bootstrap replicates at once) and SimulEval's LAAL
  layout    the study tree OUT/<corpus>/<variant>/seed<S>/{eval,eval-valid,diagnose.json}
  frontier  head families, latency-quality frontiers and interpolation on them
  analysis  the two-level bootstrap and the per-corpus summary (summary.json)
  render    report.md and the SVG plots, from the summary alone
"""
