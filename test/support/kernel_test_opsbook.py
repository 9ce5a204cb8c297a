# jupyter_kernel_test (0.4.5) conformance suite for opsbook; run as `/usr/bin/python3 -m unittest -v kernel_test_opsbook`.
"""The samples below enable every test of jupyter_kernel_test.KernelTests that opsbook supports.

Alphabetical test order matters for nothing here: each sample stands on its own (only built-in globals).
test_pager stays skipped on purpose: opsbook has no pager payloads (execute_reply.payload is always []).
The kernel name can be overridden with OPSBOOK_KERNEL_NAME.
"""
import os
import unittest

import jupyter_kernel_test


class OpsbookKernelTests(jupyter_kernel_test.KernelTests):
    kernel_name = os.environ.get("OPSBOOK_KERNEL_NAME", "opsbook")

    # test_kernel_info
    language_name = "typescript"
    file_extension = ".ts"

    # test_execute_stdout / test_execute_stderr
    code_hello_world = 'console.log("hello, world")'
    code_stderr = 'console.error("something went wrong")'

    # test_completion: the text is completed at its end; matches must be exactly these.
    completion_samples = [
        {"text": "Math.P", "matches": {"PI"}},
        {"text": "JSON.str", "matches": {"stringify"}},
        {"text": "Number.isSafeInt", "matches": {"isSafeInteger"}},
        {"text": "parseI", "matches": {"parseInt"}},
        {"text": "Object.getOwnPropertyNa", "matches": {"getOwnPropertyNames"}},
        {"text": "zzqqNothingHasThisName", "matches": set()},
        {"text": "%lsma", "matches": {"%lsmagic"}},
        {"text": "%prometheus http://x --bearer-tok", "matches": {"--bearer-token-env"}},
    ]

    # test_is_complete
    complete_code_samples = [
        "1 + 1",
        "const x = 1",
        "function f(a) { return a * 2 }",
        'console.log("hi")',
        "for (const i of [1, 2]) {\n  console.log(i)\n}",
        "await Promise.resolve(1)",
        "const typed: Record<string, number> = { a: 1 }",
        "interface Svc { name: string; replicas?: number }",
        "%lsmagic",
        "const out = %sh ls",
        "%%sh\nanything { at all",
    ]
    incomplete_code_samples = [
        "function f() {",
        "const a = [1,",
        "if (true) {\n  x = 1",
        "const s = `unterminated template",
        "/* an open comment",
        "foo(1,",
        "interface Svc {\n  name: string;",
        "function f<T>(x: T): T {",
    ]
    invalid_code_samples = [
        "1 +* 2",
        "const = 5",
        "}}",
        "let let = 1",
        "x = ) + 1",
        "const n: = 1",
    ]

    # test_error: exactly one IOPub output, of type error
    code_generate_error = 'throw new Error("boom")'

    # test_execute_result (also the inputs of test_history)
    code_execute_result = [
        {"code": "6 * 7", "result": "42"},
        {"code": '"ab" + "cd"', "result": "'abcd'"},
        {"code": "const answer = [1, 2, 3].map((n) => n * 2); answer", "result": "[ 2, 4, 6 ]"},
        {"code": "enum Level { Low = 1, High }\nconst typed: Array<number> = [1, 2].map((n: number): number => n * Level.High); typed", "result": "[ 2, 4 ]"},
    ]

    # test_display_data
    code_display_data = [
        {"code": "display({ a: 1 })", "mime": "text/plain"},
        {"code": 'display({ [Symbol.for("Jupyter.display")]: () => ({ "text/html": "<b>bold</b>" }) })', "mime": "text/html"},
        {"code": 'display({ _repr_mimebundle_: () => ({ "text/markdown": "# title" }) })', "mime": "text/markdown"},
    ]

    # test_history: the pattern matches one code_execute_result sample (glob syntax, like IPython's)
    code_history_pattern = "const answer = *"
    supported_history_operations = ("tail", "range", "search")

    # test_inspect
    code_inspect_sample = "Math.max"

    # test_clear_output
    code_clear_output = 'console.log("gone soon"); clearOutput()'


if __name__ == "__main__":
    unittest.main(verbosity=2)
