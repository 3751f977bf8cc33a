#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""bench/report.py's submission-path parser against tern-perf's JSON.

    test_bench_report.py path/to/bench/report.py path/to/tests/perf/data

data/*.json are tern-perf --json documents of the runs bench/run.sh makes
(in process and attached; their figures come from a busy machine: only the
format matters here). smoke.sh checks the same parser against a fresh run.
"""
import copy
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

REPORT, DATA = sys.argv[1], sys.argv[2]
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
spec = importlib.util.spec_from_file_location("report", REPORT)
report = importlib.util.module_from_spec(spec)
spec.loader.exec_module(report)


def sample(name):
    with open(os.path.join(DATA, name + ".json")) as f:
        return json.load(f)


class Figures(unittest.TestCase):
    def test_latency_is_tern_perf_p50_and_p99(self):
        doc = sample("inproc_lat64")
        fig = report.sub_figures(doc, "x.json", "inproc", "lat64")
        self.assertEqual(fig["p50_ns"], doc["results"][0]["latency_ns"]["p50"])
        self.assertEqual(fig["p99_ns"], doc["results"][0]["latency_ns"]["p99"])
        self.assertEqual(fig["client_cpus"], [0])
        self.assertEqual(fig["workers"], [{"lcore": 1, "cpus": [1]}])

    def test_in_process_rate_is_the_engine_slice_count(self):
        doc = sample("inproc_rate4k")
        fig = report.sub_figures(doc, "x.json", "inproc", "rate4k")
        self.assertEqual(fig["slices_per_s"], doc["results"][0]["slices_per_s"])

    def test_attached_rate_is_requests_per_second(self):
        for kind in ("attached1", "attached32"):
            doc = sample(kind + "_rate4k")
            self.assertEqual(doc["results"][0]["slices"], 0)  # tern-perf cannot see them
            fig = report.sub_figures(doc, "x.json", kind, "rate4k")
            self.assertEqual(fig["slices_per_s"], doc["results"][0]["requests_per_s"])

    def test_no_batch_in_the_window_is_an_infinite_latency(self):
        doc = sample("attached32_lat64_none_done")
        self.assertEqual(doc["results"][0]["latency_ns"]["count"], 0)
        fig = report.sub_figures(doc, "x.json", "attached32", "lat64")
        self.assertEqual(fig["p50_ns"], float("inf"))
        self.assertEqual(report.sub_value(fig["p50_ns"], "µs"), "none done")

    def test_a_missing_field_is_named(self):
        for path in (("results", 0, "latency_ns", "p99"), ("results", 0, "cpu", "process_cores"),
                     ("config", "completion"), ("results",)):
            doc = sample("inproc_lat64")
            parent = doc
            for k in path[:-1]:
                parent = parent[k]
            del parent[path[-1]]
            with self.assertRaises(report.FieldError) as e:
                report.sub_figures(doc, "sub_work_inproc_lat64_r1.json", "inproc", "lat64")
            self.assertIn("sub_work_inproc_lat64_r1.json", str(e.exception))
            self.assertIn(".".join(map(str, path)), str(e.exception))

    def test_a_run_of_other_options_is_refused(self):
        with self.assertRaisesRegex(report.FieldError, "config.batch is 1, expected 32"):
            report.sub_figures(sample("inproc_lat64"), "x.json", "inproc", "rate4k")
        with self.assertRaisesRegex(report.FieldError, "config.target is 'loopback', expected 'dataplane'"):
            report.sub_figures(sample("inproc_lat64"), "x.json", "attached1", "lat64")
        with self.assertRaisesRegex(report.FieldError, "config.clients is 1, expected 32"):
            report.sub_figures(sample("attached1_lat64"), "x.json", "attached32", "lat64")
        doc = sample("inproc_lat64")
        doc["results"][0]["errors"] = 3
        with self.assertRaisesRegex(report.FieldError, "3 failed batches"):
            report.sub_figures(doc, "x.json", "inproc", "lat64")


class Verdict(unittest.TestCase):
    def test_only_when_the_runs_do_not_overlap(self):
        self.assertEqual(report.sub_verdict([2.0, 2.1], [1.4, 1.5], True), "**regression** (no overlap)")
        self.assertEqual(report.sub_verdict([2.0, 2.1], [1.4, 1.5], False), "improvement (no overlap)")
        self.assertEqual(report.sub_verdict([1.4, 2.1], [1.5, 1.6], True), "within the spread")
        self.assertEqual(report.sub_verdict([1.0], [2.0], True), "one run each: no spread to judge by")


class Section(unittest.TestCase):
    """A results folder as run.sh leaves it: two rounds of work and base."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="tern_bench_report_")
        with open(os.path.join(self.dir, "sub.json"), "w") as f:
            json.dump({"work": "work tree", "base": "abc1234 previous", "rounds": 2, "duration_s": 1.0,
                       "dataplane_worker": "lcore 1@CPU 1", "dataplane_lcores": "worker lcore 1 on CPU 1"}, f)
        for side in ("work", "base"):
            for r in (1, 2):
                for kind, name in (("inproc", "inproc"), ("attached1", "attached1"), ("attached32", "attached32")):
                    for test in ("lat64", "rate4k"):
                        src = name + "_" + test + ("_none_done" if name == "attached32" and test == "lat64" else "")
                        doc = sample(src)
                        if side == "base" and test == "lat64" and kind == "inproc":
                            doc = copy.deepcopy(doc)  # base: 10 % faster, every run
                            doc["results"][0]["latency_ns"]["p50"] *= 0.9 - 0.01 * r
                        self.write("sub_%s_%s_%s_r%d" % (side, kind, test, r), doc)

    def tearDown(self):
        shutil.rmtree(self.dir)

    def write(self, name, doc):
        with open(os.path.join(self.dir, name + ".json"), "w") as f:
            json.dump(doc, f)

    def section(self):
        out, targets = [], []
        errors = report.sub_section(self.dir, out.append, targets)
        return "\n".join(out), targets, errors

    def row(self, text, run, figure):
        for line in text.splitlines():
            if line.startswith("| %s | %s |" % (run, figure)):
                return [c.strip() for c in line.split("|")[1:-1]]
        self.fail("no row %s / %s in\n%s" % (run, figure, text))

    def test_medians_ratio_and_verdict(self):
        text, targets, errors = self.section()
        self.assertEqual(errors, [])
        p50 = sample("inproc_lat64")["results"][0]["latency_ns"]["p50"]
        row = self.row(text, "in-process", "64 B submit -> wait p50")
        self.assertEqual(row[2], "%.2f µs" % (p50 / 1e3))
        self.assertEqual(row[4], "%.2f" % (1 / 0.885))
        self.assertEqual(row[5], "**regression** (no overlap)")
        self.assertEqual(row[7], "tern-perf worker lcore 1@CPU 1; client CPU 0")
        row = self.row(text, "attached, 1 client", "4 KiB x 32 slices/s")
        self.assertEqual(row[4], "1.00")
        self.assertEqual(row[5], "within the spread")
        self.assertEqual(row[7], "dataplane worker lcore 1@CPU 1; tern-perf client CPU 0")
        row = self.row(text, "attached, 32 clients", "64 B submit -> wait p50")
        self.assertEqual(row[2:5], ["none done", "none done", "-"])
        self.assertIn(("64 B submit -> wait p50 <= 1 µs, attached, 32 clients", "none done", False), targets)

    def test_a_disturbed_regression_says_so(self):
        with open(os.path.join(self.dir, "sub_base_inproc_lat64_r2.cpu.json"), "w") as f:
            json.dump({"wall_s": 1.4, "perf_cores": 1.9, "dataplane_cores": None, "others_cores": 0.6,
                       "steal_cores": 0.0}, f)
        text, _, _ = self.section()
        row = self.row(text, "in-process", "64 B submit -> wait p50")
        self.assertEqual(row[5], "**regression** (no overlap), but disturbed: measure again")
        self.assertEqual(row[9], "0.60 (disturbed)")

    def test_a_failed_run_shows_in_its_row(self):
        os.remove(os.path.join(self.dir, "sub_work_attached1_rate4k_r2.json"))
        with open(os.path.join(self.dir, "sub_work_attached1_rate4k_r2.err"), "w") as f:
            f.write("tern-perf: 502 batches failed, first with Connection timed out\n")
        os.remove(os.path.join(self.dir, "sub_base_attached1_rate4k_r1.json"))
        os.remove(os.path.join(self.dir, "sub_base_attached1_rate4k_r2.json"))
        text, _, errors = self.section()
        self.assertEqual(errors, [])
        row = self.row(text, "attached, 1 client", "4 KiB x 32 slices/s")
        self.assertTrue(row[2].endswith("(1 of 2 runs failed)"), row[2])
        self.assertEqual(row[3], "**failed** (`sub_base_attached1_rate4k_r1.err`)")
        self.assertIn("`sub_work_attached1_rate4k_r2`: tern-perf: 502 batches failed", text)

    def test_without_a_base_the_work_alone(self):
        with open(os.path.join(self.dir, "sub.json")) as f:
            meta = json.load(f)
        meta["base"] = None
        with open(os.path.join(self.dir, "sub.json"), "w") as f:
            json.dump(meta, f)
        text, targets, errors = self.section()
        self.assertEqual(errors, [])
        self.assertIn("**base** = none", text)
        row = self.row(text, "in-process", "64 B submit -> wait p50")
        self.assertEqual(row[3:6], ["-", "-", "-"])
        self.assertFalse([t for t in targets if "not below the base" in t[0]])

    def test_report_fails_and_says_which_field(self):
        doc = sample("inproc_rate4k")
        del doc["results"][0]["slices_per_s"]
        self.write("sub_base_inproc_rate4k_r2", doc)
        res = subprocess.run([sys.executable, REPORT, self.dir], capture_output=True, text=True)
        self.assertNotEqual(res.returncode, 0)
        self.assertIn("sub_base_inproc_rate4k_r2.json: tern-perf's JSON has no field results.0.slices_per_s",
                      res.stderr)
        with open(os.path.join(self.dir, "results.md")) as f:
            self.assertIn("results.0.slices_per_s", f.read())


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
