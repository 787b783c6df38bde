"""A GitHub stand-in for the fuzzer: answers the endpoints Portcullis
calls, refusing every token and code, so seed 003's API is reachable and
no fuzzed input can make a healthy upstream look like a failure."""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        length = int(self.headers.get("content-length") or 0)
        form = self.rfile.read(length).decode(errors="replace")
        if self.path.startswith("/applications/"):
            # GitHub's "check a token": no token here is the app's.
            self.answer(404, {"message": "Not Found"})
        elif self.path.startswith("/login/device/code"):
            self.answer(200, {"device_code": "fuzz-device", "user_code": "FUZZ-0001",
                              "verification_uri": "http://127.0.0.1/login/device",
                              "expires_in": 900, "interval": 5})
        elif "device_code" in form:
            self.answer(200, {"error": "authorization_pending"})
        else:
            self.answer(200, {"error": "bad_verification_code"})

    def do_GET(self):
        self.answer(401, {"message": "Bad credentials"})

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    server.serve_forever()
