"""Background jobs (APScheduler): the Salesforce mirror, push and nightly reconcile."""
