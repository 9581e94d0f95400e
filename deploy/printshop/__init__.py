"""The print shop: the reference outside integration of the Kundenportal.

It knows nothing but the published contract (`contracts.PinRequestedV1` on `pin.requested.v1`)
and its own private key: it reads the requests through its durable pull consumer, unseals the
PIN, writes one print-ready PDF letter per request id and acks only once the file is on disk.
Run it with `python -m deploy.printshop` (see deploy/README.md for the variables).
"""
