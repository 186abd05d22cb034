"""Build the keymoments event log and cases table from the Vitória no-show data.

The source (Kaggle "Medical Appointment No Shows", public clinics of Vitória,
Brazil, 2016; CC BY-NC-SA 4.0) has one row per appointment. Each appointment
becomes one case:

- events: ``scheduled`` at ``ScheduledDay``, then ``attended`` or ``missed``
  (``No-show`` = "Yes") on ``AppointmentDay``, a date only, as the export has
  it (keymoments places a date-only appointment after a booking made the same
  day: the model lists the booking first);
- cases: the flags as barriers of attendance — ``sms_received``,
  ``scholarship`` (Bolsa Família welfare), ``hypertension``, ``diabetes``,
  ``alcoholism``, ``handicap`` (0–4: the number of disabilities), and
  ``missed_before`` (1 when the same patient missed an appointment on an
  earlier day in this data); segments ``age``, ``gender`` and ``lead_band``
  (days from booking to appointment: same day, 1–2, 3–7, 8–14, 15–30, 31+).

Rows that cannot be used are set aside and counted (an appointment day before
its booking day, a negative age) and written to ``set_aside.csv``.

Run from the repository root (the default input is the sample kept for the
tests; pass the full file downloaded from Kaggle with ``--input``)::

    python examples/noshow/prepare.py
    python examples/noshow/prepare.py --input KaggleV2-May-2016.csv --out DIR
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
SAMPLE = HERE.parent.parent / "tests" / "data" / "real" / "noshow_appointments_sample.csv.gz"
LEAD_BANDS = ((0, "same day"), (1, "1-2 days"), (3, "3-7 days"), (8, "8-14 days"),
              (15, "15-30 days"), (31, "31+ days"))  # fmt: skip
FLAGS = {
    "SMS_received": "sms_received",
    "Scholarship": "scholarship",
    "Hipertension": "hypertension",
    "Diabetes": "diabetes",
    "Alcoholism": "alcoholism",
    "Handcap": "handicap",
}


def lead_band(days: pd.Series) -> pd.Series:
    """Days from booking to appointment, in the bands the model adjusts by."""
    edges = [low for low, _ in LEAD_BANDS]
    index = np.searchsorted(edges, days.to_numpy(), side="right") - 1
    return pd.Series(np.asarray([label for _, label in LEAD_BANDS])[index], index=days.index)


def build(raw: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(events, cases, rows set aside with a reason)."""
    booked = pd.to_datetime(raw["ScheduledDay"], utc=True).dt.tz_localize(None)
    day = pd.to_datetime(raw["AppointmentDay"], utc=True).dt.tz_localize(None).dt.normalize()
    lead = (day - booked.dt.normalize()).dt.days
    reason = pd.Series("", index=raw.index)
    reason[lead < 0] = "appointment day before the booking day"
    reason[raw["Age"] < 0] = "negative age"
    aside = raw[reason != ""].assign(reason=reason[reason != ""])
    keep = reason == ""
    raw, booked, day, lead = raw[keep], booked[keep], day[keep], lead[keep]
    missed = raw["No-show"].str.strip().str.lower() == "yes"
    case_id = raw["AppointmentID"].astype("int64").astype(str)

    # a patient's earlier no-show: any missed appointment on an earlier day
    history = pd.DataFrame({"patient": raw["PatientId"], "day": day, "missed": missed})
    first_miss = history[history["missed"]].groupby("patient")["day"].min()
    missed_before = (day > history["patient"].map(first_miss)).fillna(False).astype(int)

    events = pd.concat(
        [
            pd.DataFrame({"case_id": case_id, "activity": "scheduled", "timestamp": booked}),
            pd.DataFrame(
                {
                    "case_id": case_id,
                    "activity": np.where(missed, "missed", "attended"),
                    "timestamp": day,
                }
            ),
        ],
        ignore_index=True,
    ).sort_values(["case_id", "timestamp"], kind="stable")
    cases = pd.DataFrame(
        {
            "case_id": case_id,
            "patient_id": raw["PatientId"].astype("int64").astype(str),
            "age": raw["Age"],
            "gender": raw["Gender"],
            "lead_days": lead,
            "lead_band": lead_band(lead),
            **{new: raw[old] for old, new in FLAGS.items()},
            "missed_before": missed_before,
            "neighbourhood": raw["Neighbourhood"],
        }
    )
    return events, cases, aside


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", type=Path, default=SAMPLE)
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args(argv)
    events, cases, aside = build(pd.read_csv(args.input))
    args.out.mkdir(parents=True, exist_ok=True)
    events.to_csv(args.out / "events.csv.gz", index=False)
    cases.to_csv(args.out / "cases.csv.gz", index=False)
    aside.to_csv(args.out / "set_aside.csv", index=False)
    reasons = ", ".join(f"{n} {why}" for why, n in aside["reason"].value_counts().items())
    print(
        f"{len(cases):,} appointments, {len(events):,} events written to {args.out}; "
        f"{len(aside)} set aside" + (f" ({reasons})" if reasons else "")
    )


if __name__ == "__main__":
    main()
