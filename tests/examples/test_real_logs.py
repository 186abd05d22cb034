"""The three real logs shipped as examples, analysed end to end.

Every figure asserted here is checked against an independent pandas (or
stdlib XML) computation on the raw file in ``tests/data/real/``, or against the
numbers published in that folder's README. The data never comes from outside
the repository.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import keymoments
from keymoments.analysis import analyse
from keymoments.errors import DataWarning

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "real"
EXAMPLES = ROOT / "examples"
BOOT = 50


# -- helpers ---------------------------------------------------------------------


def _per_case(events: pd.DataFrame) -> pd.Series:
    """case_id -> set of activities."""
    return events.groupby("case_id")["activity"].agg(set)


def _reach_and_breaks(svc: keymoments.Service, acts: pd.Series) -> dict[str, tuple[float, float]]:
    """Independent reach and per-case break rate of every moment."""
    out = {}
    for m in svc.moments:
        reached = acts.map(lambda s, m=m: bool(s & set(m.activities)))
        broke = acts.map(lambda s, m=m: bool(s & set(m.broken)))
        rate = float(broke[reached].mean()) if m.broken else 0.0
        out[m.id] = (float(reached.mean()), rate)
    return out


def _check_common(result: keymoments.AnalysisResult, acts: pd.Series, n_events: int) -> dict:
    doc = result.to_dict()
    json.dumps(doc, allow_nan=False)  # valid JSON, no NaN
    assert doc["n_cases"] == len(acts)
    (events_file,) = [f for f in doc["data"]["files"] if f["kind"] == "events"]
    assert events_file["rows"] == n_events
    assert events_file["used"] == n_events
    assert events_file["set_aside"] == {}
    expected = _reach_and_breaks(result.service, acts)
    for m in result.moments:
        reach, rate = expected[m.id]
        assert m.reach == pytest.approx(reach, abs=1e-9), m.id
        assert m.break_rate == pytest.approx(rate, abs=1e-9), m.id
        lo, hi = m.reach_ci
        assert lo <= m.reach + 1e-12 and m.reach <= hi + 1e-12
    assert {a["quadrant"] for a in doc["alignment"]} <= {
        "sweet_spot",
        "user_only",
        "provider_only",
        "conflict",
        "minor",
    }
    return doc


def _impact(result: keymoments.AnalysisResult, moment: str, outcome: str) -> dict:
    (m,) = [m for m in result.moments if m.id == moment]
    return m.impact[outcome]


# -- Sepsis ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def sepsis_raw() -> pd.DataFrame:
    # keep_default_na=False: one case is literally called "NA", which pandas would
    # otherwise read as missing (that is why the data README counts 1,049 cases).
    raw = pd.read_csv(
        DATA / "sepsis_cases_eventlog.csv.gz", sep=";", dtype=str, keep_default_na=False
    )
    return raw.rename(columns={"Case ID": "case_id", "Activity": "activity"})


@pytest.fixture(scope="module")
def sepsis() -> keymoments.AnalysisResult:
    svc = keymoments.load_service(EXAMPLES / "sepsis" / "service.yaml")
    # 55 moves are recorded at one instant (e.g. a release and the return's registration)
    with pytest.warns(DataWarning, match="55 moves between moments in 55 cases"):
        return analyse(svc, events=DATA / "sepsis_cases_eventlog.csv.gz", bootstrap=BOOT)


def test_sepsis_counts_match_the_raw_file(sepsis, sepsis_raw) -> None:
    acts = _per_case(sepsis_raw)
    assert len(sepsis_raw) == 15_214
    # 1,050 cases, each with exactly one ER Registration; a default pandas read
    # loses the case named "NA" and finds 1,049.
    assert len(acts) == 1_050
    assert pd.read_csv(DATA / "sepsis_cases_eventlog.csv.gz", sep=";")["Case ID"].nunique() == 1_049
    assert (sepsis_raw["activity"] == "ER Registration").sum() == 1_050
    doc = _check_common(sepsis, acts, 15_214)
    assert doc["data"]["unmapped_activities"] == {}
    # published counts (cases): Return ER 294, Release A 671, Admission IC 110 cases / 117 events
    returned = acts.map(lambda s: "Return ER" in s)
    assert returned.sum() == 294
    assert acts.map(lambda s: "Release A" in s).sum() == 671
    assert acts.map(lambda s: "Admission IC" in s).sum() == 110
    assert (sepsis_raw["activity"] == "Admission IC").sum() == 117
    means = {o["id"]: o["mean"] for o in doc["outcomes"]}
    assert means["returned"] == pytest.approx(294 / 1_050)
    released = acts.map(lambda s: any(a.startswith("Release ") for a in s))
    assert means["released"] == pytest.approx(released.mean())
    # the release moment's break rate is the share of released patients who came back
    (release,) = [m for m in sepsis.moments if m.id == "release"]
    assert release.break_rate == pytest.approx(294 / released.sum())
    # the only warning says which moves the model ordered
    assert [w for w in sepsis.warnings if "same instant" not in w] == []


def test_sepsis_findings(sepsis, sepsis_raw) -> None:
    acts = _per_case(sepsis_raw)
    # Release is key for the hospital, and only for it: its break *is* the return,
    # so fixing it removes (almost) every return: about 0.28 returns per case.
    assert sepsis.key_moments("provider") == ["release"]
    assert sepsis.key_moments("user") == []
    rec = _impact(sepsis, "release", "returned")
    assert rec["recoverable"] == pytest.approx(-294 / 1_050, abs=0.01)
    assert rec["ci"][1] < 0
    # The raw gap after intensive care is large (43% return vs 26%) ...
    ic = acts.map(lambda s: "Admission IC" in s)
    returned = acts.map(lambda s: "Return ER" in s)
    assert returned[ic].mean() == pytest.approx(47 / 110)
    assert returned[~ic].mean() == pytest.approx(247 / 940)
    assert returned[ic].mean() - returned[~ic].mean() > 0.15
    # A first-order chain forgets that a patient went to IC by the time they are
    # released, so fixing the IC "break" barely moves returns; its model check says so,
    # naming the history it misses ...
    svc = keymoments.load_service(EXAMPLES / "sepsis" / "service.yaml")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        forgetful = analyse(
            svc, events=DATA / "sepsis_cases_eventlog.csv.gz", bootstrap=BOOT, memory="none"
        )
    assert abs(_impact(forgetful, "admission", "returned")["recoverable"]) < 0.001
    (missed,) = [
        r
        for r in forgetful.model_check
        if r.outcome == "returned" and r.moment == "admission" and r.broke
    ]
    assert not missed.ok and missed.cases == 110
    assert missed.observed == pytest.approx(47 / 110)
    assert missed.model < 0.35
    assert any("add 'admission' under 'memory:'" in w for w in forgetful.warnings)
    # ... and with memory (auto, the default) the chain remembers the IC stay: the
    # check passes and fixing IC now lowers returns, with an interval clear of zero
    assert "admission" in sepsis.memory.chosen
    assert all(r.ok for r in sepsis.model_check if r.moment == "admission")
    remembered = _impact(sepsis, "admission", "returned")
    assert remembered["recoverable"] < -0.005 and remembered["ci"][1] < 0


def test_sepsis_antibiotics_later_than_an_hour_after_triage(sepsis_raw) -> None:
    # a break about time on a real log, against a pandas recount: antibiotics more
    # than an hour after the patient's latest triage are late
    svc = keymoments.load_service(EXAMPLES / "sepsis" / "service.yaml")
    raw = svc.model_dump(exclude={"source"})
    (ab,) = [m for m in raw["moments"] if m["id"] == "antibiotics"]
    ab["broken_if"] = {"waited_over": "1h", "since": ["ER Triage", "ER Sepsis Triage"]}
    timed = keymoments.Service.model_validate(raw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        result = analyse(timed, events=DATA / "sepsis_cases_eventlog.csv.gz", bootstrap=0)
    events = sepsis_raw.assign(
        ts=pd.to_datetime(sepsis_raw["Complete Timestamp"], format="%Y/%m/%d %H:%M:%S.%f")
    )
    late = reached = 0
    for _, case in events.groupby("case_id"):
        given = case.loc[case["activity"] == "IV Antibiotics", "ts"].sort_values()
        if given.empty:
            continue
        reached += 1
        triage = case.loc[case["activity"].isin(["ER Triage", "ER Sepsis Triage"]), "ts"]
        broke = False
        for at in sorted(set(triage)):
            after = given[given >= at]
            later_triage = triage[(triage > at) & (triage <= after.min())] if len(after) else []
            if len(after) and not len(later_triage):
                broke |= (after.min() - at) > pd.Timedelta(hours=1)
        late += broke
    (rule,) = result.to_dict()["data"]["time_breaks"]
    assert rule["cases"] == late == 481
    antibiotics = result.moment("antibiotics")
    assert antibiotics.reach * 1_050 == pytest.approx(reached)
    assert antibiotics.break_rate == pytest.approx(late / reached)


# -- BPI Challenge 2012 ----------------------------------------------------------


def _read_xes(path: Path) -> pd.DataFrame:
    """Events of an XES file with the standard library only."""
    rows = []
    with gzip.open(path) as stream:
        for _, el in ET.iterparse(stream, events=("end",)):
            if el.tag.rsplit("}", 1)[-1] != "trace":
                continue
            case = next(
                c.get("value")
                for c in el
                if c.tag.rsplit("}", 1)[-1] == "string" and c.get("key") == "concept:name"
            )
            for e in el:
                if e.tag.rsplit("}", 1)[-1] == "event":
                    attrs = {c.get("key"): c.get("value") for c in e}
                    rows.append((case, attrs["concept:name"]))
            el.clear()
    return pd.DataFrame(rows, columns=["case_id", "activity"])


@pytest.fixture(scope="module")
def bpic_raw() -> pd.DataFrame:
    return _read_xes(DATA / "bpic2012_loan_application.xes.gz")


@pytest.fixture(scope="module")
def bpic() -> keymoments.AnalysisResult:
    svc = keymoments.load_service(EXAMPLES / "bpic2012" / "service.yaml")
    # decisions share their millisecond (approved, registered, activated; a decline and
    # the offer's): the model orders them
    with pytest.warns(DataWarning, match="at the same instant"):
        return analyse(svc, events=DATA / "bpic2012_loan_application.xes.gz", bootstrap=BOOT)


@pytest.mark.slow
def test_bpic_counts_match_the_raw_file(bpic, bpic_raw) -> None:
    acts = _per_case(bpic_raw)
    assert len(bpic_raw) == 262_200
    assert len(acts) == 13_087
    doc = _check_common(bpic, acts, 262_200)
    # published case outcomes: approved 2,246 (A_APPROVED = A_REGISTERED =
    # A_ACTIVATED), declined 7,635 (A_DECLINED), cancelled 2,807 (A_CANCELLED)
    n = {
        a: int(acts.map(lambda s, a=a: a in s).sum())
        for a in ("A_APPROVED", "A_ACTIVATED", "A_REGISTERED", "A_DECLINED", "A_CANCELLED")
    }
    assert n == {
        "A_APPROVED": 2_246,
        "A_ACTIVATED": 2_246,
        "A_REGISTERED": 2_246,
        "A_DECLINED": 7_635,
        "A_CANCELLED": 2_807,
    }
    open_cases = acts.map(lambda s: not s & {"A_APPROVED", "A_DECLINED", "A_CANCELLED"}).sum()
    assert open_cases == 399
    means = {o["id"]: o["mean"] for o in doc["outcomes"]}
    assert means["loan_approved"] == pytest.approx(2_246 / 13_087)
    assert means["loan_activated"] == pytest.approx(2_246 / 13_087)
    # the journey model gives the observed rates: what happens after an approval (offers
    # accepted, files validated in the same millisecond) cannot undo it
    for o in doc["outcomes"]:
        assert o["model_mean"] == pytest.approx(2_246 / 13_087, abs=0.01)
    (screen,) = [m for m in bpic.moments if m.id == "pre_acceptance"]
    assert screen.break_rate * screen.reach * 13_087 == pytest.approx(7_635)
    (commit,) = [m for m in bpic.moments if m.id == "commitment"]
    assert commit.break_rate * commit.reach * 13_087 == pytest.approx(2_807)
    # the one activity left out of the model is reported, not dropped silently
    assert doc["data"]["unmapped_activities"] == {"W_Wijzigen contractgegevens": 12}
    # the only warning says which moves the model ordered
    (warning,) = bpic.warnings
    assert "at the same instant" in warning
    ties = doc["data"]["order"]
    assert ties["tied_transitions"] > 0 and ties["date_only_activities"] == []


@pytest.mark.slow
def test_bpic_findings(bpic, bpic_raw) -> None:
    acts = _per_case(bpic_raw)
    # The bank's decline is the key moment for both sides (a sweet spot on this
    # data, where both outcomes are the same approved loans).
    assert bpic.key_moments("user") == ["pre_acceptance"]
    assert bpic.key_moments("provider") == ["pre_acceptance"]
    doc = bpic.to_dict()
    quadrants = {a["moment"]: a["quadrant"] for a in doc["alignment"]}
    assert quadrants["pre_acceptance"] == "sweet_spot"
    assert all(q == "minor" for m, q in quadrants.items() if m != "pre_acceptance")
    imp = _impact(bpic, "pre_acceptance", "loan_approved")
    assert imp["gearing"] > 1.5 and imp["ci"][0] > 0
    # Independent check of the gap: no declined application is ever approved,
    # while 41% of the others are.
    declined = acts.map(lambda s: "A_DECLINED" in s)
    approved = acts.map(lambda s: "A_APPROVED" in s)
    assert approved[declined].sum() == 0
    assert approved[~declined].mean() == pytest.approx(2_246 / (13_087 - 7_635))
    # A chain that forgets lets a declined application walk on (work items are
    # completed after the decline) and reach an approval; its model check says so:
    # of the declined, 0% approved, where it predicts about 11%. Memory (auto, the
    # default) remembers the decline, the check passes, and the recoverable comes
    # near the raw gap times the decline rate (0.58 x 0.41 = 0.24): declined
    # applicants, had they passed, would go on as those who passed did.
    assert "pre_acceptance" in bpic.memory.chosen
    assert all(r.ok for r in bpic.model_check)
    assert 0.2 < imp["recoverable"] < 0.24
    declined = next(
        r
        for r in bpic.model_check
        if r.moment == "pre_acceptance" and r.broke and r.outcome == "loan_approved"
    )
    assert declined.observed == 0.0 and declined.model == pytest.approx(0.0, abs=1e-9)


# -- MIMIC-IV demo ---------------------------------------------------------------


def _prepare_module():
    spec = importlib.util.spec_from_file_location(
        "mimic_prepare", EXAMPLES / "mimic" / "prepare.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def mimic_tables() -> tuple[pd.DataFrame, pd.DataFrame, int, pd.DataFrame, pd.DataFrame]:
    transfers = pd.read_csv(DATA / "mimic_iv_demo_transfers.csv.gz")
    admissions = pd.read_csv(DATA / "mimic_iv_demo_admissions.csv.gz")
    events, cases, dropped = _prepare_module().build(transfers, admissions)
    return events, cases, dropped, transfers, admissions


@pytest.fixture(scope="module")
def mimic(mimic_tables, tmp_path_factory) -> keymoments.AnalysisResult:
    events, cases, *_ = mimic_tables
    folder = tmp_path_factory.mktemp("mimic")
    events.to_csv(folder / "events.csv", index=False)
    cases.to_csv(folder / "cases.csv", index=False)
    svc = keymoments.load_service(EXAMPLES / "mimic" / "service.yaml")
    return analyse(svc, events=folder / "events.csv", cases=folder / "cases.csv", bootstrap=BOOT)


def test_mimic_prepared_tables(mimic_tables) -> None:
    events, cases, dropped, transfers, admissions = mimic_tables
    assert len(transfers) == 1_190 and len(admissions) == 275
    assert transfers["eventtype"].value_counts().to_dict() == {
        "transfer": 404,
        "discharge": 275,
        "admit": 275,
        "ED": 236,
    }
    # ED visits that led to no admission have no hadm_id and are left out
    assert dropped == transfers["hadm_id"].isna().sum() == 54
    assert len(events) == 1_190 - 54
    assert events["case_id"].nunique() == 275
    assert (events["activity"] == "Discharge").sum() == 275
    # the committed example files are what prepare.py makes today
    committed_events = pd.read_csv(EXAMPLES / "mimic" / "events.csv")
    committed_cases = pd.read_csv(EXAMPLES / "mimic" / "cases.csv")
    pd.testing.assert_frame_equal(
        committed_events, events.astype({"case_id": "int64"}), check_dtype=False
    )
    assert committed_cases["case_id"].tolist() == cases["case_id"].tolist()
    assert committed_cases["went_home"].sum() == 148  # HOME 72 + HOME HEALTH CARE 76
    assert cases["died"].sum() == 15 and cases["against_advice"].sum() == 4


def test_mimic_analysis(mimic, mimic_tables) -> None:
    events, cases, *_ = mimic_tables
    acts = _per_case(events)
    doc = _check_common(mimic, acts, len(events))
    assert doc["n_cases"] == 275
    (cases_file,) = [f for f in doc["data"]["files"] if f["kind"] == "cases"]
    assert cases_file["rows"] == 275 and cases_file["set_aside"] == {}
    means = {o["id"]: o["mean"] for o in doc["outcomes"]}
    # went_home is empty for the 42 admissions with no recorded place
    assert means["went_home"] == pytest.approx(148 / 233)
    assert means["bed_days"] == pytest.approx(cases["los_days"].mean())
    assert not mimic.warnings
    # Two moments can break, so gearing cannot single one out; ward care is key for
    # both sides because its effects (more go home, fewer bed-days) are material and
    # their intervals clear of zero (docs/concepts.md, the key rule) ...
    assert mimic.key_moments("provider") == ["ward_care"]
    assert mimic.key_moments("user") == ["ward_care"]
    # ... and the direction is real: the 76 admissions moved to intensive care
    # stay 10.0 days against 5.7 (pandas), and the chain says fixing that
    # escalation would save bed-days, with an interval below zero and a size
    # close to the naive share x gap (0.28 x 4.3 = 1.2 days per admission).
    moved = acts.map(lambda s: "Transfer to ICU" in s)
    los = cases.set_index("case_id")["los_days"]
    gap = los[moved[moved].index].mean() - los[moved[~moved].index].mean()
    assert moved.sum() == 76 and gap > 4
    imp = _impact(mimic, "ward_care", "bed_days")
    assert imp["recoverable"] < 0 and imp["ci"][1] < 0
    assert imp["recoverable"] == pytest.approx(-moved.mean() * gap, abs=0.5)
    assert np.isfinite(imp["gearing"])
