"""The shared runtime every service uses: settings, logging, database, bus, outbox, HTTP basics.

No service re-writes any of this, and nothing here knows a particular service.
"""
