"""stats.py - what the experiment scripts' summaries share: the mean and the half-width of a 95%
Student-t interval over seeds, and its Markdown cell."""
import math

T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}


def ci(xs):
    """mean and 95% t-interval half-width of xs (NaN half-width for one value)"""
    xs = [float(x) for x in xs]
    m = sum(xs) / len(xs)
    if len(xs) < 2:
        return m, float("nan")
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))
    return m, T975.get(len(xs) - 1, 1.96) * sd / math.sqrt(len(xs))


def cell(xs, digits=3):
    """'mean ± half-width' over seeds, or the single value"""
    m, h = ci(xs)
    if len(xs) < 2:
        return f"{m:.{digits}f}"
    return f"{m:.{digits}f} ± {h:.{digits}f}"
