"""A short black-box pass against the local server on the AWS adapters.

Run by ./infra/test after `atelier-local demo` seeded the demo studio into DynamoDB Local:
health and readiness, a sign-up, a booking through the HTTP API, the booking found in the
table with boto3 (an independent reader), the client's notice delivered through SQS by the
server's queue worker into the inbox, in the table as well, and the server's own `/metrics`
counting the booking, the request and the notice.

Usage: python infra/aws-smoke.py http://127.0.0.1:PORT   (ATELIER_TABLE and the AWS_* endpoint
variables in the environment, as the server has them)
"""

import datetime
import json
import os
import sys
import time
import urllib.error
import urllib.request

import boto3

API = sys.argv[1]


def call(method, path, body=None, token=None, expect=(200,)):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(API + path, data=data, method=method)
    if body is not None:
        request.add_header("content-type", "application/json")
    if token:
        request.add_header("authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, text = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read()
    if status not in expect:
        sys.exit(f"aws-smoke: {method} {path} answered {status}, expected {expect}: {text[:500]!r}")
    return json.loads(text) if text else None


def check(condition, message):
    if not condition:
        sys.exit(f"aws-smoke: {message}")


call("GET", "/v1/health")
ready = call("GET", "/v1/health/ready")
check(all(c["ok"] for c in ready["checks"]), f"not ready: {ready}")

email = f"smoke-{int(time.time())}@example.com"
account = call("POST", "/v1/auth/register", {"email": email, "password": "a smoke test passphrase", "name": "Smoke"}, expect=(201,))
token, user_id = account["tokens"]["access_token"], account["user"]["id"]

studio = call("GET", "/v1/public/slugs/atelier-demo")
services = call("GET", f"/v1/public/studios/{studio['id']}/services")["items"]
haircut = next(s for s in services if s["name"] == "Haircut")
today = datetime.date.today()
slots = call(
    "GET",
    f"/v1/public/studios/{studio['id']}/slots?service_id={haircut['id']}"
    f"&from={today + datetime.timedelta(days=1)}&to={today + datetime.timedelta(days=7)}",
)["slots"]
check(slots, "no free slot in the coming week")
slot = slots[-1]
booking = call(
    "POST",
    f"/v1/studios/{studio['id']}/bookings",
    {"service_id": haircut["id"], "professional_id": slot["professionals"][0], "start": slot["start"]},
    token,
    expect=(201,),
)
check(booking["status"] == "confirmed", f"booking not confirmed: {booking}")

table = boto3.resource("dynamodb", region_name=os.environ.get("AWS_REGION", "us-east-1")).Table(os.environ["ATELIER_TABLE"])
stored = table.get_item(Key={"pk": f"STUDIO#{studio['id']}", "sk": f"BOOKING#{booking['id']}"}).get("Item")
check(stored is not None and stored.get("status") == "confirmed", f"booking {booking['id']} is not in the table as confirmed: {stored}")

# booking.created -> outbox -> SQS (moto) -> the server's poller -> the notices -> the inbox.
deadline = time.time() + 60
notices = []
while time.time() < deadline and not notices:
    found = table.query(
        KeyConditionExpression="pk = :pk AND begins_with(sk, :sk)",
        ExpressionAttributeValues={":pk": f"USER#{user_id}", ":sk": "NOTIFICATION#"},
    )
    notices = found["Items"]
    if not notices:
        time.sleep(0.5)
check(notices, "no notice reached the client's inbox through SQS within 60 s")
# The server's metrics (Prometheus text) counted what just happened.
with urllib.request.urlopen(API + "/metrics", timeout=30) as response:
    metrics = response.read().decode()


def total(name, having=""):
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if (line.startswith(name + "{") or line.startswith(name + " ")) and having in line
    )


sent = total("notifications", 'outcome="sent"')
check(total("bookings_created") >= 1, f"/metrics counted no booking:\n{metrics}")
check(total("http_request_ms_count", 'group="bookings"') >= 1, f"/metrics counted no bookings request:\n{metrics}")
check(sent >= 1, f"/metrics counted no notice sent:\n{metrics}")
print(f"aws-smoke: booked {booking['id']} at {booking['start_local']}; found it in {os.environ['ATELIER_TABLE']}; "
      f"{len(notices)} notice(s) delivered through SQS; /metrics counted {total('bookings_created'):.0f} booking(s) "
      f"and {sent:.0f} notice(s) sent")
