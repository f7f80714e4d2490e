"""The domain core of the Appointment Service.

Canonical model, services, SQL store, converters, Salesforce sync and jobs. This package
never imports Flask, Radicale, ``feeds`` or ``storage_plugin``: entry points call into it.
"""
