"""`varde patient`: a patient's settings (SpO2 scale 2, age or birth date, pregnancy, measurement plan, team)."""

from __future__ import annotations

import argparse

__all__ = ["add_parser"]

_EXAMPLES = """\
examples:
  varde patient show 13097248022
  varde patient set 13097248022 --spo2-scale 2 --prescribed-by "Dr. Lege, LIS" # a COPD patient's target 88-92 %
  varde patient set 13097248022 --birth-date 1941-03-12 --measure-every 240
  varde patient set 13097248022 --team "Hjemmesykepleien Nord"
  varde patient set 13097248022 --clear spo2_scale

Every push for the patient uses these: a device need not know them. Changes are audited (varde audit --patient ID).
"""


def add_parser(sub) -> None:
    from ._connect import add_connection_args

    p = sub.add_parser("patient", help="a patient's settings: SpO2 scale 2, age, pregnancy, measurement plan, team",
                       description="Show or change one patient's settings in your unit (coordinators, clinicians).",
                       epilog=_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    psub = p.add_subparsers(dest="patient_command", metavar="ACTION")
    psub.required = True
    show = psub.add_parser("show", help="print the settings")
    show.add_argument("patient_id", metavar="ID")
    show.add_argument("--json", action="store_true")
    add_connection_args(show)
    show.set_defaults(func=_show)
    s = psub.add_parser("set", help="change settings (the others stay as they are)")
    s.add_argument("patient_id", metavar="ID")
    s.add_argument("--spo2-scale", type=int, choices=[1, 2], help="2: target 88-92 %% (needs --prescribed-by)")
    s.add_argument("--prescribed-by", default="", metavar="NAME", help="who prescribed SpO2 scale 2")
    s.add_argument("--age", type=int, metavar="YEARS")
    s.add_argument("--birth-date", metavar="YYYY-MM-DD", help="the age at each observation is taken from it")
    s.add_argument("--pregnant", choices=["yes", "no"])
    s.add_argument("--measure-every", type=int, metavar="MINUTES", help="the measurement plan")
    s.add_argument("--team", metavar="NAME", help="the team that follows the patient up (1-80 characters)")
    s.add_argument("--clear", action="append", default=[], metavar="SETTING",
                   help="remove a setting: spo2_scale, age, birth_date, pregnant, measure_every_minutes, team")
    s.add_argument("--json", action="store_true")
    add_connection_args(s)
    s.set_defaults(func=_set)


def _print(settings, as_json: bool) -> None:
    import json

    from google.protobuf import json_format

    if as_json:
        print(json.dumps(json_format.MessageToDict(settings), ensure_ascii=False))
        return
    lines = [f"patient {settings.patient_id} (unit {settings.unit or '-'})"]
    if settings.HasField("spo2_scale"):
        when = settings.spo2_scale_prescribed_at.ToDatetime().strftime("%Y-%m-%d %H:%M UTC") \
            if settings.HasField("spo2_scale_prescribed_at") else ""
        lines.append(f"  SpO2 scale {settings.spo2_scale}"
                     + (f", prescribed by {settings.spo2_scale_prescribed_by} {when}" if settings.spo2_scale == 2
                        else ""))
    if settings.birth_date:
        lines.append(f"  born {settings.birth_date}")
    elif settings.HasField("age"):
        lines.append(f"  age {settings.age}")
    if settings.HasField("pregnant"):
        lines.append(f"  pregnant: {'yes' if settings.pregnant else 'no'}")
    if settings.HasField("measure_every_minutes"):
        lines.append(f"  measure at least every {settings.measure_every_minutes} minutes")
    if settings.team:
        lines.append(f"  team {settings.team}")
    if len(lines) == 1:
        lines.append("  no settings: scale 1, applicability from what devices send")
    elif settings.updated_by:
        lines.append(f"  last changed by {settings.updated_by} {settings.updated_at.ToDatetime():%Y-%m-%d %H:%M} UTC")
    print("\n".join(lines))


def _call(args, fn):
    from ._connect import connect
    from ._errors import VardeError
    from ._files import InputError

    with connect(args) as client:
        try:
            return fn(client)
        except VardeError as e:
            raise InputError(f"{args.server}: {e.details or e}") from None


def _show(args) -> int:
    _print(_call(args, lambda c: c.patient_settings(args.patient_id)), args.json)
    return 0


def _set(args) -> int:
    pregnant = None if args.pregnant is None else args.pregnant == "yes"
    settings = _call(args, lambda c: c.set_patient_settings(
        args.patient_id, spo2_scale=args.spo2_scale, prescribed_by=args.prescribed_by, age=args.age,
        birth_date=args.birth_date, pregnant=pregnant, measure_every_minutes=args.measure_every, clear=args.clear,
        team=args.team))
    _print(settings, args.json)
    return 0
