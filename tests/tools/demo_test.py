#!/usr/bin/python3
"""tools/demo refuses before it changes anything: --help and bad flags come before installing and
building, and a bad flag, a busy port, a second demo on the same folder (the demo lock) or a
foreign --var-dir leave an existing work folder untouched.

  demo_test.py            (unittest; registered in CTest as tools_demo_refusals)
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEMO = os.path.join(ROOT, "tools", "demo")
# Printed by tools/demo.py just before it installs packages and builds: must never appear here.
BUILD_LINE = "demo: installing the Debian packages and building"


class DemoRefusals(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="demo-test-")
        # A previous run's folder, as tools/demo leaves it: it must survive every refusal.
        self.var = os.path.join(self.tmp, "var", "demo")
        os.makedirs(os.path.join(self.var, "sim"))
        for name, text in ((".sewage-demo", "made by tools/demo\n"), ("gateway.db", "data"),
                           ("sim/ground_truth.csv", "type,terminal\n")):
            with open(os.path.join(self.var, name), "w") as f:
                f.write(text)
        self.before = self.snapshot(self.var)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    @staticmethod
    def snapshot(folder):
        out = {}
        for d, _, files in os.walk(folder):
            for n in files:
                p = os.path.join(d, n)
                with open(p, "rb") as f:
                    out[os.path.relpath(p, folder)] = (f.read(), os.stat(p).st_mtime_ns)
        return out

    def demo(self, *args, cwd=None):
        r = subprocess.run([DEMO, *args], capture_output=True, text=True, timeout=60, cwd=cwd or self.tmp,
                           stdin=subprocess.DEVNULL)
        return r.returncode, r.stdout + r.stderr

    def assert_untouched(self, out):
        self.assertEqual(self.snapshot(self.var), self.before, out)
        self.assertNotIn(BUILD_LINE, out)

    def test_help_prints_before_installing_or_building(self):
        rc, out = self.demo("--help")
        self.assertEqual(rc, 0, out)
        self.assertIn("usage: tools/demo", out)
        for flag in ("--speed", "--duration", "--scenario", "--http-port", "--var-dir", "--no-build"):
            self.assertIn(flag, out)
        self.assert_untouched(out)
        rc, out = self.demo("-h")
        self.assertEqual(rc, 0, out)
        self.assertIn("usage: tools/demo", out)

    def test_bad_flags_and_values_are_refused_first(self):
        for args, why in ((["--bogus"], "unrecognized arguments: --bogus"),
                          (["--speed", "0"], "argument --speed: must be in [1, 3600], got 0"),
                          (["--speed", "fast"], "argument --speed: not a number: 'fast'"),
                          (["--http-port", "70000"], "argument --http-port: must be 0..65535"),
                          (["--duration", "-5"], "argument --duration: must be in [0,"),
                          (["--scenario", "no-such.toml"], "argument --scenario: no such file: no-such.toml")):
            with self.subTest(args=args):
                rc, out = self.demo(*args, "--var-dir", self.var)
                self.assertEqual(rc, 2, out)
                self.assertIn(why, out)
                self.assert_untouched(out)
                self.assertFalse(os.path.exists(self.var + ".lock"), "a bad flag must not even take the lock")

    def test_busy_port_leaves_the_folder_untouched(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen()
            port = s.getsockname()[1]
            rc, out = self.demo("--http-port", str(port), "--var-dir", self.var)
        self.assertEqual(rc, 2, out)
        self.assertIn(f"demo: port {port} on 127.0.0.1 is not free (Address already in use); "
                      "pass --http-port 0 for any free port", out)
        self.assert_untouched(out)

    def test_a_second_demo_is_refused_while_one_holds_the_folder(self):
        # The first demo: a process holding the demo lock through tools/demo.py's own function.
        holder = subprocess.Popen(
            [sys.executable, "-c",
             "import sys; sys.path.insert(0, sys.argv[1]); import demo; demo.acquire_lock(sys.argv[2]); "
             "print('locked', flush=True); sys.stdin.read()",
             os.path.join(ROOT, "tools"), self.var],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            self.assertEqual(holder.stdout.readline().strip(), "locked")
            with open(self.var + ".lock") as f:
                self.assertEqual(f.read().strip(), str(holder.pid))
            for args in ([], ["--http-port", "0"], ["--no-build"]):
                with self.subTest(args=args):
                    rc, out = self.demo("--var-dir", self.var, *args)
                    self.assertEqual(rc, 2, out)
                    self.assertIn(f"demo: another demo (PID {holder.pid}) is running in {self.var}", out)
                    self.assertIn(f"kill {holder.pid}", out)
                    self.assert_untouched(out)
        finally:
            holder.stdin.close()
            holder.wait(timeout=30)
            holder.stdout.close()
        # The lock ends with its holder: the next refusal is about something else (the binaries).
        rc, out = self.demo("--var-dir", self.var, "--http-port", "0", "--no-build",
                            "--bindir", os.path.join(self.tmp, "no-build-here"))
        self.assertEqual(rc, 2, out)
        self.assertIn("--no-build: gateway/sewage-gateway, firmware/sewage-agent", out)
        self.assertNotIn("another demo", out)
        self.assert_untouched(out)

    def test_a_relative_var_dir_is_locked_by_its_absolute_path(self):
        # Two spellings of one folder share one lock.
        holder = subprocess.Popen(
            [sys.executable, "-c",
             "import sys; sys.path.insert(0, sys.argv[1]); import demo; demo.acquire_lock(sys.argv[2]); "
             "print('locked', flush=True); sys.stdin.read()",
             os.path.join(ROOT, "tools"), self.var],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            self.assertEqual(holder.stdout.readline().strip(), "locked")
            rc, out = self.demo("--var-dir", "var/demo/", "--http-port", "0", cwd=self.tmp)
            self.assertEqual(rc, 2, out)
            self.assertIn(f"PID {holder.pid}", out)
            self.assert_untouched(out)
        finally:
            holder.stdin.close()
            holder.wait(timeout=30)
            holder.stdout.close()

    def test_a_folder_not_made_by_the_demo_is_never_replaced(self):
        mine = os.path.join(self.tmp, "my-files")
        os.makedirs(mine)
        with open(os.path.join(mine, "thesis.txt"), "w") as f:
            f.write("precious")
        rc, out = self.demo("--var-dir", mine, "--http-port", "0")
        self.assertEqual(rc, 2, out)
        self.assertIn(f"--var-dir {mine}: holds files not made by tools/demo", out)
        with open(os.path.join(mine, "thesis.txt")) as f:
            self.assertEqual(f.read(), "precious")
        self.assertNotIn(BUILD_LINE, out)
        rc, out = self.demo("--var-dir", "/", "--http-port", "0")
        self.assertEqual(rc, 2, out)
        self.assertIn("refusing to replace the repository or a folder above it", out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
