# A stdlib-heavy python3 workload: many small and mid-sized objects through
# json, re, collections, sqlite3, hashlib, difflib, decimal, textwrap and
# statistics. Deterministic: the same argument prints the same lines, so a
# run under libfaultline-preload.so can be compared byte for byte with one
# without (tests/realworld/test_preload.c) and timed (faultline bench).
#   /usr/bin/python3 stdlib_workload.py N      (N words; 20000 takes ~1 s)
import collections
import decimal
import difflib
import hashlib
import json
import re
import sqlite3
import statistics
import sys
import textwrap

n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
words = [("w%d" % (i * 7919 % 1000)) * (1 + i % 5) for i in range(n)]
doc = json.dumps({"words": words, "nested": [{"k": i, "v": str(i) * 3} for i in range(n // 4)]})
data = json.loads(doc)
counts = collections.Counter(re.findall(r"w\d+", " ".join(data["words"])))
db = sqlite3.connect(":memory:")
db.execute("create table t (k integer primary key, v text)")
db.executemany("insert into t(v) values (?)", [(w,) for w in words])
top = db.execute("select v, count(*) from t group by v order by 2 desc, 1 limit 3").fetchall()
diff = sum(1 for _ in difflib.unified_diff(words[: n // 20], sorted(words[: n // 20]), lineterm=""))
total = sum(decimal.Decimal(i) / 7 for i in range(n // 10))
lines = textwrap.fill(" ".join(words[:2000]), 60).count("\n")
print(counts.most_common(3), top)
print(hashlib.sha256(doc.encode()).hexdigest(), diff, str(total)[:24], lines)
print(round(statistics.mean(len(w) for w in words), 6), len(data["nested"]))
