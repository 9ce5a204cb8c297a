# Produces known-answer vectors for the wire unit tests with jupyter_client's own Session (run with Debian's
# /usr/bin/python3). Output: test/unit/fixtures/wire-vectors.json. Re-run only to regenerate.
import json, sys
from jupyter_client.session import Session

cases = []
for scheme, key in [("hmac-sha256", b"a0436f6c-1916-498b-8eb9-e81ab9368e84"), ("hmac-sha512", b"secret"), ("hmac-sha1", b"k"), ("hmac-sha256", b"")]:
    s = Session(key=key, signature_scheme=scheme, username="tester", session="0f1e2d3c-sess")
    header = {"msg_id": "11111111-2222-3333-4444-555555555555", "msg_type": "execute_request", "username": "tester",
              "session": "0f1e2d3c-sess", "date": "2026-11-25T10:00:00.000000Z", "version": "5.3"}
    msg = {"header": header, "parent_header": {}, "metadata": {"cell": "ünïcode ✓"},
           "content": {"code": "console.log('héllo 🌍')", "silent": False}, "buffers": []}
    frames = s.serialize(msg, ident=[b"client-id"])
    cases.append({"scheme": scheme, "key": key.decode(), "frames": [f.decode("utf-8") if isinstance(f, bytes) else f for f in frames],
                  "parts": [f.decode("utf-8") if isinstance(f, bytes) else f for f in frames[3:7]]})
json.dump(cases, sys.stdout, ensure_ascii=False, indent=1)
