"""Before/after evaluations of audits, their estimators and chart, the pooled summary, and targeting."""
