#!/usr/bin/env python3
"""json_schema.py MAN FILE...: checks every JSON line of FILEs (lines that
start with "{"; others are ignored) against the schema in nat(7) MAN, the
table under "JSON types": each key must be listed, its value of the listed
type (int, str, int/null, int/null/str), and the record's type among
those the table names for the key (P: the profile's, or any).  A signal
record's other keys are its body's, the sender's choice: not checked.
Prints one line per problem and "checked N records, M keys" at the end;
exits 1 when there was a problem, 2 when the table cannot be read."""
import json
import re
import sys


# P in the records column: the profile's keys, in these records.
PROFILE = "peer, profile, request"


def schema(path):
    keys, inside = {}, False
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        if line.startswith(".Ss ") or line.startswith(".Sh "):
            inside = line == ".Ss JSON types"
            continue
        if not inside or not line.startswith(".It Cm "):
            continue
        cols = [c.strip() for c in line[len(".It "):].split(" Ta ")]
        if len(cols) != 3:
            sys.exit("%s: bad schema row: %s" % (path, line))
        ktype = cols[1]
        recs = cols[2]
        for k in cols[0].split(" , "):
            k = re.sub(r"^Cm ", "", k.strip()).replace("\\-", "-")
            keys[k] = (ktype, None if recs == "any" else
                       set(r.strip() for r in
                           recs.replace("P", PROFILE).split(",")))
    if not keys:
        print("%s: no JSON types table" % path)
        sys.exit(2)
    return keys


OK = {
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "str": lambda v: isinstance(v, str),
    "int/null": lambda v: v is None or OK["int"](v),
    "int/null/str": lambda v: v is None or OK["int"](v) or isinstance(v, str),
}


def main():
    keys = schema(sys.argv[1])
    for t, _ in keys.values():
        if t not in OK:
            sys.exit("%s: unknown type %r" % (sys.argv[1], t))
    bad = nrec = nkey = 0
    for path in sys.argv[2:]:
        for n, line in enumerate(open(path, encoding="utf-8",
                                      errors="replace"), 1):
            if not line.startswith("{"):
                continue
            where = "%s:%d" % (path, n)
            try:
                rec = json.loads(line)
            except ValueError as e:
                print("%s: not JSON: %s" % (where, e))
                bad += 1
                continue
            nrec += 1
            rtype = rec.get("type")
            for k, v in rec.items():
                nkey += 1
                if k not in keys and rtype == "signal":
                    continue
                if k not in keys:
                    print("%s: %s: key %r is not in nat(7)" % (where, rtype, k))
                    bad += 1
                    continue
                t, recs = keys[k]
                if not OK[t](v):
                    print("%s: %s: %s=%r is not a %s" % (where, rtype, k,
                                                         v, t))
                    bad += 1
                if recs is not None and rtype not in recs:
                    print("%s: %s: key %r is not listed for %s records" %
                          (where, rtype, k, rtype))
                    bad += 1
    print("checked %d records, %d keys" % (nrec, nkey))
    sys.exit(1 if bad else 0)


main()
