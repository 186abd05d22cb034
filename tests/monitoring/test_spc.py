"""SPC charts and Making Data Count's rules: published worked examples, hand-worked runs,
and the false-signal and detection rates the docs state (docs/monitor.md)."""

from __future__ import annotations

import numpy as np
import pytest

from keymoments.monitoring.spc import RULES, p_chart, xmr_chart

# Montgomery, D. C., Introduction to Statistical Quality Control (6th ed., Wiley 2009),
# Example 7.1 and Table 7.1: frozen orange-juice cans, 30 samples of n = 50, nonconforming
# cans per sample. The same data are the NIST/SEMATECH e-Handbook of Statistical Methods'
# p-chart example (section 6.3.3.2, "30 wafers of 50 chips", p̄ = .2313) and the `orangejuice`
# data set of the R package qcc (samples 1-30, trial = TRUE).
ORANGE_JUICE = [12, 15, 8, 10, 4, 7, 16, 9, 14, 10, 5, 6, 17, 12, 22,
                8, 10, 5, 13, 11, 20, 18, 24, 15, 9, 12, 7, 13, 9, 6]  # fmt: skip

# Montgomery (6th ed.), Example 6.5: mortgage-loan processing costs, 20 weeks (individuals).
LOAN_COSTS = [310, 288, 297, 298, 307, 303, 294, 297, 308, 306,
              294, 299, 297, 299, 314, 295, 293, 306, 301, 304]  # fmt: skip


def test_p_chart_matches_montgomerys_trial_limits() -> None:
    # published: p̄ = 0.2313, UCL = 0.4102, LCL = 0.0524; samples 15 and 23 out of control
    chart = p_chart(ORANGE_JUICE, np.full(30, 50))
    assert round(chart.centre, 4) == 0.2313
    assert np.round(chart.ucl, 4).tolist() == [0.4102] * 30
    assert np.round(chart.lcl, 4).tolist() == [0.0524] * 30
    out = [i + 1 for i, s in enumerate(chart.signals) if "outside_limits" in s]
    assert out == [15, 23]


def test_p_chart_matches_montgomerys_revised_limits() -> None:
    # published: with samples 15 and 23 left out of the limits (assignable causes found),
    # p̄ = 0.2150, UCL = 0.3893, LCL = 0.0407; sample 21 (0.40) then lies above the UCL
    baseline = np.ones(30, dtype=bool)
    baseline[[14, 22]] = False
    chart = p_chart(ORANGE_JUICE, np.full(30, 50), baseline=baseline)
    assert round(chart.centre, 4) == 0.2150
    assert round(float(chart.ucl[0]), 4) == 0.3893
    assert round(float(chart.lcl[0]), 4) == 0.0407
    out = [i + 1 for i, s in enumerate(chart.signals) if "outside_limits" in s]
    assert out == [15, 21, 23]


def test_xmr_chart_matches_montgomerys_individuals_chart() -> None:
    # published: x̄ = 300.5, MR̄ = 7.79, UCL = 321.22, LCL = 279.78 (no point out)
    chart = xmr_chart(LOAN_COSTS)
    assert chart.centre == pytest.approx(300.5)
    assert round(float(chart.ucl[0]) - chart.centre, 2) == round(2.66 * 148 / 19, 2)
    assert round(float(chart.ucl[0]), 2) == 321.22
    assert round(float(chart.lcl[0]), 2) == 279.78
    assert chart.n_signals == 0


def test_p_chart_limits_vary_with_the_denominator_and_stay_in_0_1() -> None:
    chart = p_chart([1, 10, 50], [10, 100, 1000])
    p = 61 / 1110
    assert chart.centre == pytest.approx(p)
    assert chart.ucl[2] == pytest.approx(p + 3 * np.sqrt(p * (1 - p) / 1000))
    assert chart.lcl[0] == 0.0  # p - 3 sigma < 0 is held at 0
    assert chart.ucl[0] < chart.ucl[0] + 1 and chart.ucl[0] <= 1.0


def test_xmr_screens_out_huge_moving_ranges() -> None:
    values = [10.0, 11, 10, 11, 10, 11, 10, 11, 40, 11, 10, 11]
    ranges = np.abs(np.diff(values))
    kept = ranges[ranges < 3.267 * ranges.mean()]
    chart = xmr_chart(values)
    assert float(chart.ucl[0]) - chart.centre == pytest.approx(2.66 * kept.mean())
    assert "outside_limits" in chart.signals[8]
    assert chart.point_types()[8] == "improvement"  # higher is better by default


def _flat(values: list[float], centre: float = 10.0, sigma: float = 1.0) -> list[list[str]]:
    """Signals for values on an XmR-like chart with fixed centre and limits."""
    from keymoments.monitoring.spc import special_causes

    y = np.asarray(values, dtype=float)
    return special_causes(
        y,
        centre,
        np.full_like(y, centre - 3 * sigma),
        np.full_like(y, centre + 3 * sigma),
        np.full_like(y, sigma),
        np.ones(len(y), dtype=bool),
    )


def test_shift_needs_seven_in_a_row_and_flags_all_of_them() -> None:
    six = [9.0, 10.5, 10.2, 10.4, 10.1, 10.3, 10.6, 9.5]
    assert not any("shift" in s for s in _flat(six))
    seven = [9.0, 10.5, 10.2, 10.4, 10.1, 10.3, 10.6, 10.2, 9.5]
    flagged = [i for i, s in enumerate(_flat(seven)) if "shift" in s]
    assert flagged == [1, 2, 3, 4, 5, 6, 7]
    # a point on the centre line ends a run
    broken = [10.5, 10.2, 10.4, 10.0, 10.1, 10.3, 10.6, 10.2]
    assert not any("shift" in s for s in _flat(broken))


def test_trend_needs_seven_rising_or_falling_points() -> None:
    rising = [8.2, 8.1, 8.5, 9.0, 9.6, 10.5, 11.0, 11.2, 10.0]
    flagged = [i for i, s in enumerate(_flat(rising)) if "trend" in s]
    assert flagged == [1, 2, 3, 4, 5, 6, 7]
    # six rising points are not a trend; a tie breaks the run
    assert not any("trend" in s for s in _flat([8.0, 8.5, 9.0, 9.6, 10.5, 11.0, 10.0]))
    assert not any("trend" in s for s in _flat([8.0, 8.5, 9.0, 9.0, 9.6, 10.5, 11.0, 11.2]))
    falling = [12.0, 11.5, 11.0, 10.2, 9.9, 9.0, 8.5]
    assert [i for i, s in enumerate(_flat(falling)) if "trend" in s] == list(range(7))


def test_two_of_three_near_a_limit_on_one_side() -> None:
    # 2.5 sigma above twice in three, all three above the centre: the two close ones
    signals = _flat([10.0, 12.5, 10.5, 12.6, 10.0])
    assert [i for i, s in enumerate(signals) if "two_of_three" in s] == [1, 3]
    # the middle point below the centre: not on one side
    assert not any("two_of_three" in s for s in _flat([12.5, 9.5, 12.6]))
    # beyond a limit is not "near" it
    assert [i for i, s in enumerate(_flat([13.5, 10.5, 12.6])) if s] == [0]


def test_unjudged_periods_are_skipped_and_never_flagged() -> None:
    from keymoments.monitoring.spc import special_causes

    y = np.array([10.5, 10.2, np.nan, 10.4, 10.1, 10.3, 10.6, 10.2, 20.0])
    judged = np.isfinite(y)
    judged[-1] = False  # an incomplete period: far out, but not judged
    sigma = np.ones_like(y)
    signals = special_causes(y, 10.0, 7 + 0 * y, 13 + 0 * y, sigma, judged)
    assert signals[2] == [] and signals[-1] == []
    assert [i for i, s in enumerate(signals) if "shift" in s] == [0, 1, 3, 4, 5, 6, 7]


def test_variation_icon_reads_the_latest_judged_point() -> None:
    chart = p_chart([30] * 20 + [15] * 8, [100] * 28)
    assert chart.variation == "improvement"  # fewer breaks is better
    worse = p_chart([30] * 20 + [45] * 8, [100] * 28)
    assert worse.variation == "concern"
    assert p_chart([30] * 20, [100] * 20).variation == "common_cause"
    assert set(RULES) == {"outside_limits", "shift", "trend", "two_of_three"}


# -- rates over 100 seeds (docs/monitor.md, "How often it cries wolf") ---------------------

WEEKS, VISITS, RATE = 52, 500, 0.30


def test_false_signals_on_stable_series_stay_within_the_documented_rates() -> None:
    # documented: 39% of year-long weekly series show a signal and 5% of points are
    # flagged (nearly all by the shift rule), 0.25% beyond a limit; batches of 100 series
    # stay within 55 series and 8% of points (their 99.9th percentiles, simulated)
    rng = np.random.default_rng(20)
    with_signal = flagged = outside = 0
    for _ in range(100):
        n = np.full(WEEKS, VISITS)
        chart = p_chart(rng.binomial(n, RATE), n)
        with_signal += chart.n_signals > 0
        flagged += chart.n_signals
        outside += sum("outside_limits" in s for s in chart.signals)
    assert with_signal <= 55  # of 100 series
    assert flagged / (100 * WEEKS) <= 0.08
    assert outside / (100 * WEEKS) <= 0.005


def test_a_step_of_two_standard_errors_is_flagged_within_seven_periods() -> None:
    # documented: limits from 26 weeks before the change; a sustained step of 2 standard
    # errors of a week's rate is flagged within 7 weeks in 99% of series (simulated)
    rng = np.random.default_rng(21)
    step = -2 * np.sqrt(RATE * (1 - RATE) / VISITS)
    within = 0
    for _ in range(100):
        n = np.full(WEEKS, VISITS)
        p = np.where(np.arange(WEEKS) < 26, RATE, RATE + step)
        chart = p_chart(rng.binomial(n, p), n, baseline=np.arange(WEEKS) < 26)
        types = chart.point_types()
        first = next((i for i in range(26, WEEKS) if types[i] == "improvement"), None)
        within += first is not None and first - 26 < 7
    assert within >= 95
