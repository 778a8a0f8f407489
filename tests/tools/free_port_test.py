#!/usr/bin/python3
"""The port picker of the county launcher (tools/county.py), which the browser tests' harness
(tests/web/harness.py) uses too: CI once started a browser test's broker and its gateway's HTTP listener on one
port, because two calls made before either port was bound got the same port from the kernel.
The picker never hands out a port twice in a process, nor a port something listens on.

  free_port_test.py            (unittest; registered in CTest as tools_free_port)
"""
import importlib.util
import os
import socket
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load(path, name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FreePortTest(unittest.TestCase):
    def test_county(self):
        module = load("tools/county.py", "county")
        seen = set()
        for i in range(3000):
            port = module.free_port()
            self.assertGreater(port, 0)
            self.assertNotIn(port, seen, f"port {port} handed out twice (call {i})")
            seen.add(port)
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen()
            busy = listener.getsockname()[1]
            for _ in range(500):
                self.assertNotEqual(module.free_port(), busy)

    def test_harness_uses_it(self):
        harness = load("tests/web/harness.py", "harness")
        self.assertEqual(harness.free_port.__module__, "county")


if __name__ == "__main__":
    unittest.main()
