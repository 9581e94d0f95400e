"""Every staff route of the design (DESIGN.md's staff area, as the services serve it), with ids
that exist nowhere: the gates answer before anything is looked up."""

from uuid import uuid4

STAFF_API = [
    ("GET", "/api/v1/accounts/staff/members?email=jemand%40example.de"),
    ("POST", f"/api/v1/accounts/staff/members/{uuid4()}/confirmation"),
    ("POST", f"/api/v1/accounts/staff/members/{uuid4()}/initial-password"),
    ("DELETE", f"/api/v1/accounts/staff/members/{uuid4()}/throttle"),
    ("POST", f"/api/v1/accounts/staff/members/{uuid4()}/deactivation"),
    ("DELETE", f"/api/v1/accounts/staff/members/{uuid4()}/deactivation"),
    ("DELETE", f"/api/v1/accounts/staff/members/{uuid4()}"),
    ("GET", "/api/v1/accounts/staff/audit?limit=5"),
    ("GET", "/api/v1/pins/staff/businesses/1234567"),
    ("POST", "/api/v1/pins/staff/businesses/1234567/letters"),
    ("DELETE", f"/api/v1/pins/staff/businesses/1234567/links/{uuid4()}"),
    ("GET", "/api/v1/pins/staff/audit"),
    ("GET", "/api/v1/notifications/staff/mails?email=jemand%40example.de"),
]
