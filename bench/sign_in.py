"""Signs in once through the hosted login page, as a browser would, and
prints the SSO session cookie (`name=value`) for the benchmark's later
`GET /authorize` requests.

    python3 bench/sign_in.py BASE_URL AUTHORIZE_QUERY USERNAME PASSWORD
"""
import html
import http.client
import re
import sys
import urllib.parse

base, query, username, password = sys.argv[1:5]
host = urllib.parse.urlsplit(base).netloc
conn = http.client.HTTPConnection(host)


def cookies_of(response):
    return [
        value.split(";", 1)[0]
        for name, value in response.getheaders()
        if name.lower() == "set-cookie"
    ]


conn.request("GET", "/authorize?" + query)
page = conn.getresponse()
body = page.read().decode()
if page.status != 200:
    sys.exit(f"GET /authorize answered {page.status}")
jar = cookies_of(page)
fields = dict(
    (name, html.unescape(value))
    for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', body)
)
fields.update(username=username, password=password)
conn.request(
    "POST",
    "/login",
    body=urllib.parse.urlencode(fields),
    headers={
        "Content-Type": "application/x-www-form-urlencoded",
        "Cookie": "; ".join(jar),
        "Origin": base,
    },
)
answer = conn.getresponse()
answer.read()
if answer.status != 303 or "code=" not in (answer.getheader("Location") or ""):
    sys.exit(f"POST /login answered {answer.status} {answer.getheader('Location')}")
session = [c for c in cookies_of(answer) if "session" in c.split("=", 1)[0]]
if not session:
    sys.exit("no session cookie")
print(session[0])
