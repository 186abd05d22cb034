"""Build the keymoments event log and cases table from the MIMIC-IV demo.

keymoments reads one events table with one activity column, so the transfers
table (one row per ED stay, admission, ward transfer and discharge) becomes
``events.csv`` and the admissions table becomes ``cases.csv``:

- case_id: ``hadm_id`` (one hospital admission); transfer rows without an
  admission (ED visits that did not lead to one) are left out and counted;
- activity: a readable step from ``eventtype`` and ``careunit``;
- timestamp: ``intime``;
- cases: ``went_home`` (1 for HOME or HOME HEALTH CARE, 0 for any other known
  place, empty when the place is not recorded), ``died`` (hospital_expire_flag),
  ``against_advice``, ``los_days`` (dischtime - admittime, in days),
  ``admission_type``, ``insurance``.

Run from the repository root (the defaults read tests/data/real/ and write next
to this file)::

    python examples/mimic/prepare.py
    python examples/mimic/prepare.py --transfers T.csv.gz --admissions A.csv.gz --out DIR
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "tests" / "data" / "real"
HOME = {"HOME", "HOME HEALTH CARE"}


def is_icu(careunit: object) -> bool:
    """Intensive care units, including the coronary care unit."""
    text = str(careunit)
    return "ICU" in text or "Intensive" in text or text == "Coronary Care Unit (CCU)"


def activity(eventtype: str, careunit: object) -> str:
    """A readable step for one transfer row."""
    unit = "" if pd.isna(careunit) else str(careunit)
    if eventtype == "ED":
        return "ED arrival"
    if eventtype == "discharge":
        return "Discharge"
    if unit == "Discharge Lounge":
        return "Discharge lounge"
    if unit.startswith("Emergency Department"):
        return "ED observation"
    where = "ICU" if is_icu(unit) else "ward"
    return f"Admitted to {where}" if eventtype == "admit" else f"Transfer to {where}"


def build(
    transfers: pd.DataFrame, admissions: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """(events, cases, rows left out for having no hadm_id)."""
    t = transfers[transfers["hadm_id"].notna()].copy()
    dropped = len(transfers) - len(t)
    events = pd.DataFrame(
        {
            "case_id": t["hadm_id"].astype("int64"),
            "activity": [
                activity(e, c) for e, c in zip(t["eventtype"], t["careunit"], strict=True)
            ],
            "timestamp": t["intime"],
            "careunit": t["careunit"],
            "transfer_id": t["transfer_id"],
        }
    ).sort_values(["case_id", "timestamp", "transfer_id"], kind="stable")

    a = admissions
    place = a["discharge_location"]
    los = pd.to_datetime(a["dischtime"]) - pd.to_datetime(a["admittime"])
    cases = pd.DataFrame(
        {
            "case_id": a["hadm_id"].astype("int64"),
            "went_home": place.isin(HOME).astype("Int64").where(place.notna()),
            "died": a["hospital_expire_flag"].astype("int64"),
            "against_advice": (place == "AGAINST ADVICE").astype("int64"),
            "los_days": (los.dt.total_seconds() / 86400).round(3),
            "admission_type": a["admission_type"],
            "insurance": a["insurance"],
            "discharge_location": place,
        }
    ).sort_values("case_id")
    return events.reset_index(drop=True), cases.reset_index(drop=True), dropped


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transfers", default=DATA / "mimic_iv_demo_transfers.csv.gz")
    parser.add_argument("--admissions", default=DATA / "mimic_iv_demo_admissions.csv.gz")
    parser.add_argument("--out", default=HERE)
    args = parser.parse_args(argv)
    events, cases, dropped = build(pd.read_csv(args.transfers), pd.read_csv(args.admissions))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    events.to_csv(out / "events.csv", index=False)
    cases.to_csv(out / "cases.csv", index=False)
    print(
        f"{len(events)} events, {events['case_id'].nunique()} admissions -> {out / 'events.csv'}; "
        f"{len(cases)} cases -> {out / 'cases.csv'}; "
        f"{dropped} transfer rows without an admission (hadm_id) left out"
    )


if __name__ == "__main__":
    main()
