#!/usr/bin/env python3
"""Seeds a Portcullis database for the benchmark at scale (bench/run.sh --rows N).

Writes, through each database's bulk path (INSERT ... SELECT over a generated
series, one transaction per table; no row crosses the wire one by one):

- N users with their login names, all sharing one argon2id hash;
- N refresh token families of 1 to 9 tokens each (5N tokens), rotated chains
  ending in a live token, every tenth family revoked, every tenth other one
  expired;
- N reference access tokens, one in twenty expired;
- N/2 browser sessions and N/10 consumed authorization codes;

and, whatever N, the working set the benchmark presents, with known token
values written to files: FAMILIES families of the bench user (their live
tokens, one per line, to --families-out) and REFERENCES reference tokens of
the reference client (to --references-out).

Token values are derived from their row numbers and their digests computed
in SQL (SHA-256, as the server computes them), so the rows are those the
server would have written. Usage: see bench/run.sh.
"""
import argparse
import sqlite3
import hashlib
import subprocess
import sys
import time


class Sqlite:
    name = "sqlite"

    def __init__(self, path):
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.create_function(
            "sha256", 1, lambda s: hashlib.sha256(s.encode()).digest(), deterministic=True
        )
        self.conn.execute("PRAGMA synchronous = OFF")
        self.conn.execute("PRAGMA foreign_keys = ON")

    def series(self, n):
        return f"SELECT 1 AS i WHERE {n} >= 1 UNION ALL SELECT i + 1 FROM {{cte}} WHERE i < {n}"

    def pad(self, expr, width):
        return f"printf('%0{width}d', {expr})"

    def sha(self, expr):
        return f"sha256({expr})"

    def ts(self, seconds):
        return f"strftime('%Y-%m-%d %H:%M:%f', 'now', '{int(seconds):+d} seconds')"

    def boolean(self, value):
        return "1" if value else "0"

    def run(self, sql):
        self.conn.execute("BEGIN")
        self.conn.execute(sql)
        self.conn.execute("COMMIT")

    def scalar(self, sql):
        return self.conn.execute(sql).fetchone()[0]

    def finish(self):
        self.conn.execute("ANALYZE")
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.conn.close()


class Postgres:
    name = "postgres"

    def __init__(self, url):
        self.url = url

    def series(self, n):
        return f"SELECT generate_series(1, {n}) AS i"

    def pad(self, expr, width):
        return f"lpad(({expr})::text, {width}, '0')"

    def sha(self, expr):
        return f"sha256(convert_to({expr}, 'UTF8'))"

    def ts(self, seconds):
        return f"((now() AT TIME ZONE 'utc') + interval '{int(seconds)} seconds')"

    def boolean(self, value):
        return "true" if value else "false"

    def psql(self, sql, *flags):
        out = subprocess.run(
            ["psql", "-q", "-v", "ON_ERROR_STOP=1", *flags, self.url],
            input=sql, text=True, capture_output=True,
        )
        if out.returncode != 0:
            sys.exit(f"psql failed: {out.stderr.strip()}")
        return out.stdout

    def run(self, sql):
        self.psql(f"BEGIN;\n{sql};\nCOMMIT;\n")

    def scalar(self, sql):
        return self.psql(sql + ";\n", "-tA").strip()

    def finish(self):
        self.psql("VACUUM ANALYZE;\n")


def cte(db, name, n):
    return f"{name}(i) AS ({db.series(n).replace('{cte}', name)})"


def uuid(db, kind, expr):
    """A UUID (version 4 layout) numbered within its kind."""
    return f"'{kind:08d}-0000-4000-8000-' || {db.pad(expr, 12)}"


def token(prefix, db, expr):
    """A 43-character token value, the length of the server's own."""
    return f"'{prefix}' || {db.pad(expr, 37)}"


USERS, FAMILIES, TOKEN_IDS, SESSIONS, CODES = 1, 2, 3, 4, 5
DAY = 86400


def refresh_chains(db, first, count, client, user_expr, revoked_every, expired_every):
    """Families numbered first..first+count-1, 1 to 9 tokens each; token k
    of family f has the value rt(f*10+k). Every `revoked_every`-th family is
    revoked, every `expired_every`-th is past its expiry (0: never)."""
    f = f"({first} - 1 + f.i)"
    value = lambda k: token("seedrt", db, f"{f} * 10 + {k}")
    length = f"(1 + {f} % 9)"
    last = f"k.i = {length}"
    revoked = f"{f} % {revoked_every} = 0" if revoked_every else "1 = 0"
    expired = f"{f} % {expired_every} = 1" if expired_every else "1 = 0"
    when = lambda cond, yes, no: f"CASE WHEN {cond} THEN {yes} ELSE {no} END"
    return f"""WITH RECURSIVE {cte(db, 'f', count)}, {cte(db, 'k', 9)}
INSERT INTO refresh_tokens
  (digest, family_id, client_id, user_id, scope, issued_at, expires_at, rotated_at, revoked_at,
   family_expires_at, parent_digest, successor_digest, superseded_at, access_token_id, access_expires_at)
SELECT
  {db.sha(value('k.i'))},
  {uuid(db, FAMILIES, f)},
  '{client}',
  {user_expr},
  'read write',
  {db.ts(-2 * DAY)},
  {when(expired, db.ts(-DAY), db.ts(30 * DAY))},
  {when(last, 'NULL', db.ts(-DAY))},
  {when(revoked, db.ts(-DAY), 'NULL')},
  {when(expired, db.ts(-DAY), db.ts(90 * DAY))},
  {when('k.i = 1', 'NULL', db.sha(value('k.i - 1')))},
  {when(last, 'NULL', db.sha(value('k.i + 1')))},
  NULL, NULL, NULL
FROM f JOIN k ON k.i <= {length}"""


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("url", help="sqlite://FILE or postgres://URL")
    p.add_argument("--rows", type=int, required=True)
    p.add_argument("--client", required=True, help="the client of the refresh tokens")
    p.add_argument("--reference-client", required=True, help="the client of the reference tokens")
    p.add_argument("--user", required=True, help="the bench user's id, owner of the working families")
    p.add_argument("--families", type=int, default=1000)
    p.add_argument("--references", type=int, default=100000)
    p.add_argument("--families-out", required=True)
    p.add_argument("--references-out", required=True)
    a = p.parse_args()
    n = a.rows
    db = Sqlite(a.url.removeprefix("sqlite://")) if a.url.startswith("sqlite://") else Postgres(a.url)
    password_hash = db.scalar(f"SELECT password_hash FROM users WHERE id = '{a.user}'")
    if not password_hash:
        sys.exit(f"the bench user {a.user} has no password hash")

    steps = []
    user = lambda expr: uuid(db, USERS, expr)
    steps.append(("users", f"""WITH RECURSIVE {cte(db, 'u', n)}
INSERT INTO users (id, username, email, password_hash, given_name, family_name, disabled, created_at)
SELECT {user('u.i')}, 'user' || u.i, 'user' || u.i || '@example.test', '{password_hash}',
       'Given', 'Family ' || u.i, {db.boolean(False)}, {db.ts(-30 * DAY)}
FROM u"""))
    steps.append(("login names", f"""WITH RECURSIVE {cte(db, 'u', n)}
INSERT INTO login_names (name, user_id)
SELECT 'user' || u.i, {user('u.i')} FROM u
UNION ALL SELECT 'user' || u.i || '@example.test', {user('u.i')} FROM u"""))
    steps.append(("refresh tokens", refresh_chains(
        db, 1, n, a.client, user("f.i"), revoked_every=10, expired_every=10)))
    steps.append(("working families", refresh_chains(
        db, n + 1, a.families, a.client, f"'{a.user}'", revoked_every=0, expired_every=0)))
    steps.append(("reference tokens", f"""WITH RECURSIVE {cte(db, 't', n + a.references)}
INSERT INTO access_tokens (digest, token_id, client_id, subject, scope, issued_at, expires_at, family_id)
SELECT {db.sha(token('seedat', db, 't.i'))}, {uuid(db, TOKEN_IDS, 't.i')}, '{a.reference_client}',
       CASE WHEN t.i > {n} THEN '{a.user}' ELSE {user('t.i')} END, 'read',
       {db.ts(-60)},
       CASE WHEN t.i <= {n} AND t.i % 20 = 0 THEN {db.ts(-60)} ELSE {db.ts(30 * DAY)} END,
       NULL
FROM t"""))
    steps.append(("sessions", f"""WITH RECURSIVE {cte(db, 's', n // 2)}
INSERT INTO sessions (digest, user_id, created_at, expires_at, last_seen_at)
SELECT {db.sha(token('seedss', db, 's.i'))}, {user('s.i')}, {db.ts(-DAY)}, {db.ts(7 * DAY)}, {db.ts(-60)}
FROM s"""))
    steps.append(("codes", f"""WITH RECURSIVE {cte(db, 'c', n // 10)}
INSERT INTO authorization_codes
  (digest, client_id, user_id, redirect_uri, scope, code_challenge, code_challenge_method,
   issued_at, expires_at, consumed_at, issued_family_id, issued_access_token_id,
   issued_access_expires_at, nonce, auth_time)
SELECT {db.sha(token('seedcd', db, 'c.i'))}, '{a.client}', {user('c.i')}, 'http://127.0.0.1:9/callback',
       'read', NULL, NULL, {db.ts(-30)}, {db.ts(30)}, {db.ts(-20)}, NULL, NULL, NULL, NULL, NULL
FROM c"""))

    started = time.monotonic()
    for label, sql in steps:
        t = time.monotonic()
        db.run(sql)
        print(f"seeded {label} in {time.monotonic() - t:.1f} s", file=sys.stderr)
    db.finish()
    print(f"seeded {n} users in {time.monotonic() - started:.1f} s", file=sys.stderr)

    with open(a.families_out, "w") as out:
        for w in range(a.families):
            f = n + 1 + w
            out.write(f"seedrt{f * 10 + 1 + f % 9:037d}\n")
    with open(a.references_out, "w") as out:
        for t in range(n + 1, n + a.references + 1):
            out.write(f"seedat{t:037d}\n")


if __name__ == "__main__":
    main()
