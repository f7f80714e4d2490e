"""A Salesforce org emulator for development and tests (``serve --demo --salesforce-emulator``, ``tests/salesforce``).

:mod:`sf_emulator.emulator` serves the REST surface simple-salesforce uses on 127.0.0.1;
:mod:`sf_emulator.org` holds the org's shape (objects, fields, picklists) from ``fixtures/describe.json``.
Never imported by the service itself (``caldav_bridge``), only by the CLI's emulator option and the tests.
"""
