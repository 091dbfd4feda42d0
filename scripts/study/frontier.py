"""Head families and latency-quality frontiers.

A family is what a sweep varies one threshold of: the head kind, its fixed arguments (attn's window
W) and its latency floor and ceiling, e.g. `probe/min-lag=1/max-lag=3`, `attn:4`, `waitk`.
`offline` is a family of one point.

A frontier holds the points of a family that no other point of it dominates (at least as high a BLEU
at no higher LAAL, and better in one of them; of equal points the first is kept): sorted by LAAL,
each with a higher BLEU than every point before it. Between two
frontier points the frontier is the straight line (a mix of the two policies would do as well).
Points are (LAAL, BLEU, head) tuples; NaN values are left out."""
import math


def family_of(spec):
    """`probe:0.9/max-lag=3/min-lag=1` -> `probe/min-lag=1/max-lag=3`; `attn:4:0.2` -> `attn:4`."""
    base, *opts = spec.split("/")
    fields = base.split(":")
    fam = fields[0]
    if fam == "attn" and len(fields) == 3:
        fam += ":" + fields[1]
    order = {"min-lag": 0, "max-lag": 1}
    opts = sorted(opts, key=lambda o: (order.get(o.split("=")[0], 2), o))
    return "/".join([fam] + opts)


def threshold_of(spec):
    """What varies within the family: `probe:0.9/min-lag=1` -> `0.9`, `waitk:3` -> `3`."""
    base = spec.split("/")[0]
    return base.rsplit(":", 1)[1] if ":" in base else base


def is_streaming(family):
    return family != "offline"


def frontier(points):
    """The frontier of (LAAL, BLEU, head) points, by increasing LAAL (and BLEU)."""
    best, out = -math.inf, []
    for p in sorted((p for p in points if not (math.isnan(p[0]) or math.isnan(p[1]))), key=lambda p: (p[0], -p[1])):
        if p[1] > best:
            out.append(p)
            best = p[1]
    return out


def bleu_at_laal(front, laal):
    """BLEU of the frontier at LAAL `laal`, linear between its points; None outside its LAAL range."""
    if not front or laal < front[0][0] or laal > front[-1][0]:
        return None
    for p, q in zip(front, front[1:]):
        if p[0] <= laal <= q[0]:
            return p[1] + (laal - p[0]) / (q[0] - p[0]) * (q[1] - p[1])
    return front[0][1]  # a frontier of one point, at its LAAL


def laal_at_bleu(front, bleu):
    """(LAAL, BLEU reached) where the frontier first reaches BLEU `bleu`: linear between its points;
    its first point when that is already at or above `bleu` (the LAAL is then an upper bound and
    the BLEU reached is higher); None when it never reaches `bleu`."""
    if not front or bleu is None or math.isnan(bleu) or front[-1][1] < bleu:
        return None
    if front[0][1] >= bleu:
        return front[0][0], front[0][1]
    for p, q in zip(front, front[1:]):
        if p[1] < bleu <= q[1]:
            return p[0] + (bleu - p[1]) / (q[1] - p[1]) * (q[0] - p[0]), bleu
    return None
