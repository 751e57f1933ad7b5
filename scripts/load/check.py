"""Helpers of scripts/load.sh, over the example API's HTTP interface only.

  check.py sign-in         prints "slug=token ..." for the owner of each demo tenant
  check.py check CREATED   checks that each tenant lists exactly its own "load" tasks,
                           and that they number CREATED (the 201s wrk counted), plus at
                           most one per connection (in flight when wrk stopped)
"""
import json
import os
import sys
import urllib.request

PORT = os.environ.get("PORT", "3099")
DOMAIN = os.environ.get("BASE_DOMAIN", "demo.localhost")
OWNERS = {
    "acme": "dana.whitfield@acme-logistics.example",
    "globex": "elena.novak@globex-energy.example",
    "initech": "nina.park@initech.example",
}


def call(slug, path, token=None, body=None):
    req = urllib.request.Request(f"http://127.0.0.1:{PORT}{path}", method="POST" if body else "GET")
    req.add_header("Host", f"{slug}.{DOMAIN}")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    if body:
        req.add_header("Content-Type", "application/json")
        req.data = json.dumps(body).encode()
    with urllib.request.urlopen(req) as r:
        return json.load(r)


def sign_in():
    return {s: call(s, "/sign-in", body={"email": e, "password": "rowguard-demo"})["token"] for s, e in OWNERS.items()}


def load_tasks(slug, token):
    titles, after = [], None
    while True:
        page = call(slug, "/tasks?limit=200" + (f"&after={after}" if after else ""), token)
        titles += [t["title"] for t in page["items"] if t["title"].startswith("load ")]
        after = page["next"]
        if not after:
            return titles


def main():
    if sys.argv[1] == "sign-in":
        print(" ".join(f"{s}={t}" for s, t in sign_in().items()))
        return 0
    created = int(sys.argv[2])
    tokens = sign_in()
    total = 0
    for slug, token in tokens.items():
        titles = load_tasks(slug, token)
        foreign = [t for t in titles if t.split(" ")[1] != slug]
        if foreign:
            print(f"[load] FAIL: {slug} lists other tenants' tasks: {foreign[:3]}")
            return 1
        print(f"[load] {slug}: {len(titles)} load tasks, all its own")
        total += len(titles)
    # wrk stops with up to one request in flight per connection: those may have
    # committed without wrk seeing their 201.
    connections = int(os.environ.get("CONNECTIONS", "32"))
    if not created <= total <= created + connections:
        print(f"[load] FAIL: {total} load tasks listed, {created} 201s seen, {connections} connections")
        return 1
    print(f"[load] isolation and counts hold: {total} tasks listed ({created} 201s seen), each in its own tenant only")
    return 0


if __name__ == "__main__":
    sys.exit(main())
